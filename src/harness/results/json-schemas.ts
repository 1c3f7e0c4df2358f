/** The JSON Schemas gpubench ships (schemas/*.json), generated from the zod schemas. */
import { z } from 'zod';
import { ResultsFile } from './schema.js';
import { suiteSchema } from '../suite.js';
// The suite schema lists the registered workloads.
import '../../kernels/index.js';

/** The shipped JSON Schemas, by file name. */
export function jsonSchemas(): Record<string, unknown> {
  return {
    'results.v1.schema.json': { $id: 'urn:gpubench:schema:results:v1', ...z.toJSONSchema(ResultsFile, { io: 'output' }) },
    'suite.v1.schema.json': { $id: 'urn:gpubench:schema:suite:v1', ...z.toJSONSchema(suiteSchema(), { io: 'input' }) },
  };
}
