/**
 * Every subcommand of the CLI, one file each. A new command is a new file here and one
 * line in this list.
 */
import type { CliCommand } from '../command.js';
import { estimateCommand } from './estimate.js';

export const commands: CliCommand[] = [
  estimateCommand,
];
