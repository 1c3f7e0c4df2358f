/** `gpubench schemas`: writes the JSON Schemas of results and suite files (for editors and validators). */
import { join } from 'node:path';
import { z } from 'zod';
import type { Command } from 'commander';
import type { CliCommand } from '../command.js';
import { ResultsFile } from '../../results/schema.js';
import { suiteSchema } from '../../suite.js';
import { writeJsonAtomic } from '../../../reporters/results-file.js';
import '../../../kernels/index.js';

/** The shipped JSON Schemas, by file name. */
export function jsonSchemas(): Record<string, unknown> {
  return {
    'results.v1.schema.json': { $id: 'urn:gpubench:schema:results:v1', ...z.toJSONSchema(ResultsFile, { io: 'output' }) },
    'suite.v1.schema.json': { $id: 'urn:gpubench:schema:suite:v1', ...z.toJSONSchema(suiteSchema(), { io: 'input' }) },
  };
}

export const schemasCommand: CliCommand = {
  register(program: Command) {
    program
      .command('schemas')
      .description('write the JSON Schemas of results and suite files')
      .option('--write <dir>', 'directory to write them to', 'schemas')
      .action((opts: { write: string }) => {
        for (const [name, schema] of Object.entries(jsonSchemas())) {
          writeJsonAtomic(join(opts.write, name), schema);
          process.stdout.write(`wrote ${join(opts.write, name)}\n`);
        }
      });
  },
};
