import { describe, expect, it } from 'vitest';
import { compressHostlist, expandHostlist } from '../src/fleet/hostlist.js';

describe('Slurm hostlist compression', () => {
  it('writes the forms sbatch --exclude reads', () => {
    expect(compressHostlist(['node03', 'node17'])).toBe('node[03,17]');
    expect(compressHostlist(['gpu001', 'gpu002', 'gpu003', 'gpu004', 'cpu7'])).toBe('gpu[001-004],cpu7');
    expect(compressHostlist(['node17', 'node03', 'node04', 'node05', 'node03'])).toBe('node[03-05,17]');
    expect(compressHostlist(['login'])).toBe('login');
    expect(compressHostlist(['node3'])).toBe('node3');
    expect(compressHostlist([])).toBe('');
  });
  it('keeps zero padding apart and suffixes in the group', () => {
    expect(compressHostlist(['n9', 'n10', 'n11'])).toBe('n[9-11]');
    expect(compressHostlist(['n09', 'n10', 'n9'])).toBe('n[9,09-10]');
    expect(compressHostlist(['rack1-gpu1.ib', 'rack1-gpu2.ib', 'rack2-gpu1.ib'])).toBe('rack1-gpu[1-2].ib,rack2-gpu1.ib');
  });
  it('expands back to the same hosts', () => {
    const hosts = ['gpu001', 'gpu002', 'gpu003', 'gpu009', 'cpu7', 'login', 'a1b2', 'a1b3'];
    expect(expandHostlist(compressHostlist(hosts)).sort()).toEqual([...hosts].sort());
    expect(expandHostlist('node[03,17],x')).toEqual(['node03', 'node17', 'x']);
  });
  it('refuses what is not a host name', () => {
    expect(() => compressHostlist(['a,b'])).toThrow(/not a host name/);
  });
});
