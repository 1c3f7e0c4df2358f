/**
 * Every subcommand of the CLI, one file each. A new command is a new file here and one
 * line in this list.
 */
import type { CliCommand } from '../command.js';
import { compareCommand } from './compare.js';
import { estimateCommand } from './estimate.js';
import { fleetCommand } from './fleet.js';
import { coordinatorCommand } from './coordinator.js';
import { listCommand } from './list.js';
import { reportCommand } from './report.js';
import { runCommand } from './run.js';
import { schemasCommand } from './schemas.js';
import { workerCommand } from './worker.js';

export const commands: CliCommand[] = [
  listCommand,
  runCommand,
  reportCommand,
  compareCommand,
  estimateCommand,
  schemasCommand,
  coordinatorCommand,
  workerCommand,
  fleetCommand,
];
