/**
 * The machine a benchmark ran on, recorded in every result so that figures can be compared.
 *
 * Models: nothing in PostgreSQL (reporting only).
 * Entry points: `machineInfo`, `MachineInfo`.
 * See also: micro.ts, dml.ts.
 */

import * as os from "node:os";

/** Node version, OS, CPU and memory. */
export interface MachineInfo {
  node: string;
  os: string;
  arch: string;
  cpuModel: string;
  cpus: number;
  totalMemBytes: number;
}

/** Describes this machine. */
export function machineInfo(): MachineInfo {
  return {
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    arch: process.arch,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    cpus: os.availableParallelism(),
    totalMemBytes: os.totalmem(),
  };
}
