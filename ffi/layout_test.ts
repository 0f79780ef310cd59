import { deepEqual, equal } from "node:assert/strict";
import { openLibrary } from "./lib.ts";
import { EXPECTED_PING_CONSTANTS, EXPECTED_PING_LAYOUT } from "./ping.ts";
import { EXPECTED_CONSTANTS, EXPECTED_LAYOUT } from "./records.ts";
import { TCP_EXPECTED_CONSTANTS, TCP_EXPECTED_LAYOUT } from "./tcp_records.ts";
import { L7_EXPECTED_CONSTANTS, L7_EXPECTED_LAYOUT } from "./l7_records.ts";
import {
  ABI_VERSION,
  AttachCode,
  FILE_STAT_SIZE,
  MapCursor,
  OpenFlag,
  ProgramFlag,
  ProgramKind,
} from "./symbols.ts";
import { NAT_EXPECTED_CONSTANTS, NAT_EXPECTED_LAYOUT } from "./nat.ts";
import { TASKSTATS_EXPECTED_CONSTANTS, TASKSTATS_EXPECTED_LAYOUT } from "./taskstats.ts";
import { FILE_EXPECTED_CONSTANTS, FILE_EXPECTED_LAYOUT } from "./file_records.ts";
import { builtLibrary, libraryIgnoreReason } from "./_test_util.ts";

const ignoreReason = libraryIgnoreReason();
if (ignoreReason) console.warn(`ffi/layout_test.ts ignored: ${ignoreReason}`);

/** ABI constants symbols.ts mirrors from osprey.h. */
const ABI_CONSTANTS: Record<string, number> = {
  OSP_PROG_TP_BTF: ProgramKind.TP_BTF,
  OSP_PROG_RAW_TP: ProgramKind.RAW_TP,
  OSP_PROG_SYSCALL: ProgramKind.SYSCALL,
  OSP_PROG_FENTRY: ProgramKind.FENTRY,
  OSP_PROG_FEXIT: ProgramKind.FEXIT,
  OSP_MAP_CURSOR_START: MapCursor.START,
  OSP_MAP_CURSOR_BATCH: MapCursor.BATCH,
  OSP_MAP_CURSOR_BY_KEY: MapCursor.BY_KEY,
  OSP_MAP_CURSOR_DONE: MapCursor.DONE,
  OSP_PROG_F_AUTOLOAD: ProgramFlag.AUTOLOAD,
  OSP_PROG_F_ATTACHED: ProgramFlag.ATTACHED,
  OSP_ATTACH_SKIPPED: AttachCode.SKIPPED,
  OSP_ATTACH_ON_DEMAND: AttachCode.ON_DEMAND,
  OSP_OPEN_FORCE_RAW_TP: OpenFlag.FORCE_RAW_TP,
  OSP_OPEN_LEGACY_EXIT: OpenFlag.LEGACY_EXIT,
  OSP_OPEN_NO_FENTRY: OpenFlag.NO_FENTRY,
  OSP_FILE_STAT_SIZE: FILE_STAT_SIZE,
};

function parseLayout(text: string) {
  const fields: Record<string, [number, number]> = {};
  const constants: Record<string, number> = {};
  for (const line of text.trim().split("\n")) {
    const parts = line.split(" ");
    if (parts.length === 3) fields[parts[0]] = [Number(parts[1]), Number(parts[2])];
    else if (parts.length === 2) constants[parts[0]] = Number(parts[1]);
    else throw new Error(`Cannot parse layout line "${line}"`);
  }
  return { fields, constants };
}

Deno.test({
  name: "osp_layout() matches every offset and size the TypeScript decoders use",
  ignore: ignoreReason !== "",
  fn() {
    using lib = openLibrary(builtLibrary());
    equal(lib.abiVersion(), ABI_VERSION);
    const { fields } = parseLayout(lib.layout());
    deepEqual(fields, {
      ...EXPECTED_LAYOUT,
      ...TCP_EXPECTED_LAYOUT,
      ...L7_EXPECTED_LAYOUT,
      ...EXPECTED_PING_LAYOUT,
      ...NAT_EXPECTED_LAYOUT,
      ...TASKSTATS_EXPECTED_LAYOUT,
      ...FILE_EXPECTED_LAYOUT,
    });
  },
});

Deno.test({
  name:
    "osp_layout() constants match records.ts, symbols.ts, tcp_records.ts, ping.ts, nat.ts, taskstats.ts and file_records.ts",
  ignore: ignoreReason !== "",
  fn() {
    using lib = openLibrary(builtLibrary());
    const { constants } = parseLayout(lib.layout());
    deepEqual(constants, {
      ...EXPECTED_CONSTANTS,
      ...TCP_EXPECTED_CONSTANTS,
      ...L7_EXPECTED_CONSTANTS,
      ...ABI_CONSTANTS,
      ...EXPECTED_PING_CONSTANTS,
      ...NAT_EXPECTED_CONSTANTS,
      ...TASKSTATS_EXPECTED_CONSTANTS,
      ...FILE_EXPECTED_CONSTANTS,
    });
  },
});
