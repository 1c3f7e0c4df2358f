/** `gpubench schemas`: writes the JSON Schemas of results and suite files (for editors and validators). */
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CliCommand } from '../command.js';
import { writeJsonAtomic } from '../../../reporters/results-file.js';

export const schemasCommand: CliCommand = {
  register(program: Command) {
    program
      .command('schemas')
      .description('write the JSON Schemas of results and suite files')
      .option('--write <dir>', 'directory to write them to', 'schemas')
      .action(async (opts: { write: string }) => {
        // Loaded here, not at start-up: zod and the workloads are what make `--help` slow.
        const { jsonSchemas } = await import('../../results/json-schemas.js');
        for (const [name, schema] of Object.entries(jsonSchemas())) {
          writeJsonAtomic(join(opts.write, name), schema);
          process.stdout.write(`wrote ${join(opts.write, name)}\n`);
        }
      });
  },
};
