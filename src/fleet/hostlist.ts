/**
 * Slurm hostlist compression: `node03,node17,node04` → `node[03-04,17]`, the form
 * `sbatch --exclude` and `scontrol show hostnames` read. Hosts are grouped by the text
 * around their last run of digits; within a group, numbers that follow each other collapse
 * into ranges (zero padding is part of the name: a padded range keeps one width).
 */

/** One host split at its last run of digits. */
interface Parsed {
  prefix: string;
  digits: string;
  suffix: string;
}

function parse(host: string): Parsed | undefined {
  const m = /^(.*?)(\d+)(\D*)$/.exec(host);
  return m ? { prefix: m[1]!, digits: m[2]!, suffix: m[3]! } : undefined;
}

/** `03`, `03-05`: ranges of same-width numbers, in numeric order, each once. */
function ranges(digits: string[]): string[] {
  const sorted = [...new Set(digits)].sort((a, b) => Number(a) - Number(b) || a.length - b.length);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    // A zero-padded start fixes the width of its range (`09-10`); an unpadded one takes any
    // unpadded number (`9-11`), as Slurm expands them.
    const padded = sorted[i]!.length > 1 && sorted[i]!.startsWith('0');
    const fits = (d: string) => (padded ? d.length === sorted[i]!.length : !(d.length > 1 && d.startsWith('0')));
    while (j + 1 < sorted.length && Number(sorted[j + 1]) === Number(sorted[j]) + 1 && fits(sorted[j + 1]!)) j++;
    out.push(i === j ? sorted[i]! : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out;
}

/**
 * The hosts as one Slurm hostlist expression (each host once, groups in order of first
 * appearance): `gpu[001-004],cpu7`. A group of one host is written plainly.
 */
export function compressHostlist(hosts: readonly string[]): string {
  const groups = new Map<string, { prefix: string; suffix: string; digits: string[] }>();
  const plain: string[] = [];
  const order: string[] = [];
  for (const h of new Set(hosts)) {
    if (h.includes(',') || h.includes('[')) throw new Error(`"${h}" is not a host name`);
    const p = parse(h);
    if (!p) {
      plain.push(h);
      order.push(`plain:${h}`);
      continue;
    }
    const key = `${p.prefix}\u0000${p.suffix}`;
    let g = groups.get(key);
    if (!g) {
      g = { prefix: p.prefix, suffix: p.suffix, digits: [] };
      groups.set(key, g);
      order.push(`group:${key}`);
    }
    g.digits.push(p.digits);
  }
  return order
    .map((o) => {
      if (o.startsWith('plain:')) return o.slice(6);
      const g = groups.get(o.slice(6))!;
      const r = ranges(g.digits);
      return r.length === 1 && !r[0]!.includes('-') ? `${g.prefix}${r[0]}${g.suffix}` : `${g.prefix}[${r.join(',')}]${g.suffix}`;
    })
    .join(',');
}

/** Expands a hostlist expression (`node[01-03,7]`, one bracket per host pattern) back to its hosts. */
export function expandHostlist(expr: string): string[] {
  const out: string[] = [];
  for (const part of expr.match(/[^,[]*(\[[^\]]*\])?[^,]*/g)!.filter(Boolean)) {
    const m = /^(.*?)\[([^\]]*)\](.*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    for (const r of m[2]!.split(',')) {
      const [lo, hi = lo] = r.split('-') as [string, string?];
      for (let i = Number(lo); i <= Number(hi); i++) out.push(`${m[1]}${String(i).padStart(lo.length, '0')}${m[3]}`);
    }
  }
  return out;
}
