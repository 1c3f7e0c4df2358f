/**
 * `gpubench estimate`: from a model, a cluster and (optionally) measured results to step
 * time, MFU, time-to-train, energy and cost; `--search`, `--site-power`, `--instances`;
 * and `--validate FILE` against published runs. The model lives in `src/estimate/`.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { CliCommand } from '../command.js';
import { UsageError } from '../../errors.js';
import type { EstimateOptions } from '../../../estimate/run.js';
import { parseCount, parsePower } from '../../../estimate/site.js';
import { RECOMPUTE_MODULES } from '../../../estimate/recompute-modules.js';

const int = (flag: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`"${v}" is not a positive integer`, flag);
  return n;
};
const count = (flag: string) => (v: string): number => {
  const n = parseCount(v);
  if (n === undefined || n <= 0) throw new UsageError(`"${v}" is not a positive number (suffixes k, M, G/B, T, P allowed)`, flag);
  return n;
};
const nonNeg = (flag: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`"${v}" is not a non-negative number`, flag);
  return n;
};
const someOf = (flag: string, allowed: readonly string[]) => (v: string): string[] => {
  const xs = v.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = xs.filter((x) => !allowed.includes(x));
  if (xs.length === 0 || bad.length) throw new UsageError(`"${bad.join(',') || v}" is not allowed (a comma-separated list of: ${allowed.join(', ')})`, flag);
  return xs;
};
const oneOf = (flag: string, allowed: string[]) => (v: string): string => {
  if (!allowed.includes(v)) throw new UsageError(`"${v}" is not allowed (allowed: ${allowed.join(', ')})`, flag);
  return v;
};

function writeJson(path: string, doc: unknown): void {
  const text = JSON.stringify(doc, null, 2) + '\n';
  if (path === '-') process.stdout.write(text);
  else writeFileSync(path, text);
}

interface RawOpts extends Omit<EstimateOptions, 'model' | 'measured' | 'sitePowerWatts' | 'instances' | 'sequenceParallel' | 'paramsFile' | 'checkpointIntervalS'> {
  checkpointInterval?: number;
  model?: string;
  sp?: boolean;
  params?: string;
  validate?: string;
  json?: string;
  measured?: string;
  sitePower?: string;
  instances?: boolean | string;
  quiet?: boolean;
}

export const estimateCommand: CliCommand = {
  register(program: Command): void {
    program
      .command('estimate')
      .description('Scale node measurements to cluster estimates: step time, MFU, time-to-train, power, cost')
      .option('--model <name|file>', 'model preset (configs/models) or YAML file')
      .option('--cluster <name|file>', 'cluster preset (configs/clusters) or YAML file', 'h100-16k')
      .option('--gpu <id>', 'GPU type (overrides the cluster file)')
      .option('--gpus <n>', 'GPUs in the job (default: all of the cluster)', int('--gpus'))
      .option('--tp <n>', 'tensor parallel size', int('--tp'))
      .option('--pp <n>', 'pipeline parallel size', int('--pp'))
      .option('--dp <n>', 'data parallel size (default gpus/(tp·pp·cp))', int('--dp'))
      .option('--cp <n>', 'context parallel size', int('--cp'))
      .option('--micro-batch <n>', 'micro-batch size, sequences', int('--micro-batch'))
      .option('--global-batch <n>', 'global batch, sequences', int('--global-batch'))
      .option('--virtual-stages <n>', 'interleaved pipeline chunks per stage', int('--virtual-stages'))
      .option('--seq-length <n>', 'sequence length (overrides the model file)', int('--seq-length'))
      .option('--recompute <mode>', 'none | selective | full', oneOf('--recompute', ['none', 'selective', 'full']))
      .option('--recompute-modules <list>', `what selective recompute runs again, as Megatron-Core's --recompute-modules (implies --recompute selective): ${RECOMPUTE_MODULES.join(', ')}`, someOf('--recompute-modules', RECOMPUTE_MODULES))
      .option('--precision <p>', 'fp16 | bf16 | fp8', oneOf('--precision', ['fp16', 'bf16', 'fp8', 'tf32', 'fp32']))
      .option('--sp', 'sequence parallelism on')
      .option('--no-sp', 'sequence parallelism off')
      .option('--attention <impl>', 'unfused | flash', oneOf('--attention', ['unfused', 'flash']))
      .option('--distributed-optimizer', 'shard optimizer state over data-parallel ranks')
      .option('--fsdp', 'FSDP / ZeRO-3: shard parameters, gradients and optimizer state over data-parallel ranks')
      .option('--ep <n>', 'expert parallel size (MoE models)', int('--ep'))
      .option('--failures-per-gpu-hour <x>', 'unexpected interruptions per GPU-hour (default: Llama 3, 419 in 54 days on 16,384 GPUs)', nonNeg('--failures-per-gpu-hour'))
      .option('--checkpoint-interval <s>', 'seconds of training between checkpoints (default: the Young/Daly optimum)', nonNeg('--checkpoint-interval'))
      .option('--storage-gbps <GB/s>', 'checkpoint storage bandwidth, write and read (default 2000)', nonNeg('--storage-gbps'))
      .option('--restart-seconds <s>', 'seconds from a failure to running again, before the restore (default 600)', nonNeg('--restart-seconds'))
      .option('--train-tokens <n>', 'tokens to train for (time, energy, cost); e.g. 15T', count('--train-tokens'))
      .option('--measured <files>', 'comma-separated gpubench results files (matmul TFLOP/s, collective busbw)')
      .option('--search', 'search TP/PP/CP/micro-batch/recompute layouts')
      .option('--top <n>', 'layouts to show with --search', int('--top'))
      .option('--site-power <watts>', 'size a site for a power budget, e.g. 4.5GW')
      .option('--allreduce-bytes <n>', 'also estimate one all-reduce of this many bytes on all GPUs', count('--allreduce-bytes'))
      .option('--instances [file]', 'compare cloud instance presets (configs/instances.yaml)')
      .option('--params <file>', 'YAML overriding efficiency parameters (see docs/estimate.md)')
      .option('--validate <file>', 'predict every run of a published-runs file and report MAPE')
      .option('--json <file>', "write the JSON document to a file ('-' = stdout)")
      .option('-q, --quiet', 'no table on stdout')
      .action(async (raw: RawOpts) => {
        // Loaded here, not at start-up: `gpubench --help` should not pay for the model.
        const [{ formatEstimate, formatValidation }, { loadParams, runEstimate }, { validatePublishedRuns }, { readMeasurements }] = await Promise.all([
          import('../../../estimate/format.js'),
          import('../../../estimate/run.js'),
          import('../../../estimate/validate.js'),
          import('../../../estimate/measured.js'),
        ]);
        const measured = raw.measured ? raw.measured.split(',').filter(Boolean) : undefined;
        if (raw.validate) {
          const report = validatePublishedRuns(raw.validate, { params: loadParams(raw.params), measured: measured ? readMeasurements(measured) : undefined });
          for (const r of report.runs) if (r.error) process.stderr.write(`gpubench: warning: ${r.id} not predicted: ${r.error}\n`);
          if (raw.json) writeJson(raw.json, { schema: 'gpubench.estimate-validation/v1', ...report });
          if (!raw.quiet && raw.json !== '-') process.stdout.write(formatValidation(report));
          process.exitCode = 0;
          return;
        }
        if (!raw.model) throw new UsageError('required unless --validate is given (a preset in configs/models or a YAML file)', '--model');
        let sitePowerWatts: number | undefined;
        if (raw.sitePower !== undefined) {
          sitePowerWatts = parsePower(raw.sitePower);
          if (!sitePowerWatts) throw new UsageError(`"${raw.sitePower}" is not a power (e.g. 4.5GW, 300MW, 2e9)`, '--site-power');
        }
        const { sp, params, checkpointInterval, ...rest } = raw;
        const doc = runEstimate({
          ...rest,
          checkpointIntervalS: checkpointInterval,
          model: raw.model,
          sequenceParallel: sp,
          measured,
          sitePowerWatts,
          instances: raw.instances !== undefined && raw.instances !== false,
          instancesFile: typeof raw.instances === 'string' ? raw.instances : undefined,
          paramsFile: params,
        });
        if (raw.json) writeJson(raw.json, doc);
        if (!raw.quiet && raw.json !== '-') process.stdout.write(formatEstimate(doc));
        process.exitCode = 0;
      });
  },
};
