/**
 * `detectLaunch`: where a worker's rank, world size and coordinator come from under each
 * launcher. The launcher's own variables win; GPUBENCH_COORDINATOR only gives the address;
 * torchrun's coordinator is on MASTER_PORT + 1 (its own store binds MASTER_PORT); empty
 * variables count as unset. The end-to-end runs under each launcher are in
 * launch-torchrun-k8s.test.ts, launch-slurm.test.ts, launch-slurm-netns.test.ts and launch-mpirun.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_COORDINATOR_PORT, detectLaunch, firstSlurmHost } from '../src/collectives/control/launchers.js';

describe('torchrun', () => {
  const torchrun = { RANK: '5', WORLD_SIZE: '8', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '4', GROUP_RANK: '1', MASTER_ADDR: 'head', MASTER_PORT: '29500' };

  it('takes RANK, WORLD_SIZE, LOCAL_RANK, and the coordinator on MASTER_ADDR at MASTER_PORT + 1', () => {
    expect(detectLaunch(torchrun)).toMatchObject({ launcher: 'torchrun', rank: 5, size: 8, localRank: 1, coordinator: 'ws://head:29501' });
  });

  it('GPUBENCH_COORDINATOR_PORT overrides MASTER_PORT + 1', () => {
    expect(detectLaunch({ ...torchrun, GPUBENCH_COORDINATOR_PORT: '31000' })?.coordinator).toBe('ws://head:31000');
  });

  it('brackets an IPv6 MASTER_ADDR', () => {
    expect(detectLaunch({ ...torchrun, MASTER_ADDR: '::1' })?.coordinator).toBe('ws://[::1]:29501');
  });

  it('wins over GPUBENCH_RANK / GPUBENCH_WORLD_SIZE; GPUBENCH_COORDINATOR only moves the address', () => {
    const got = detectLaunch({ ...torchrun, GPUBENCH_RANK: '0', GPUBENCH_WORLD_SIZE: '2', GPUBENCH_LOCAL_RANK: '0', GPUBENCH_COORDINATOR: 'ws://elsewhere:7000' });
    expect(got).toMatchObject({ launcher: 'torchrun', rank: 5, size: 8, localRank: 1, coordinator: 'ws://elsewhere:7000' });
  });

  it('needs both RANK and WORLD_SIZE: RANK alone is not torchrun', () => {
    expect(detectLaunch({ RANK: '0', MASTER_ADDR: 'head', MASTER_PORT: '29500' })).toBeUndefined();
  });

  it('inside a Slurm step (srun torchrun …) the ranks are torchrun\'s, not SLURM_PROCID', () => {
    const got = detectLaunch({ ...torchrun, SLURM_PROCID: '1', SLURM_NTASKS: '2', SLURM_LOCALID: '0', SLURM_JOB_NODELIST: 'gpu[01-02]' });
    expect(got).toMatchObject({ launcher: 'torchrun', rank: 5, size: 8, coordinator: 'ws://head:29501' });
  });
});

describe('Open MPI', () => {
  const ompi = { OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_RANK: '0' };

  it('takes OMPI_COMM_WORLD_*; the address only from GPUBENCH_COORDINATOR', () => {
    expect(detectLaunch(ompi)).toMatchObject({ launcher: 'openmpi', rank: 2, size: 4, localRank: 0 });
    expect(detectLaunch(ompi)?.coordinator).toBeUndefined();
    expect(detectLaunch({ ...ompi, GPUBENCH_COORDINATOR: 'ws://10.0.0.1:29400' })).toMatchObject({ launcher: 'openmpi', rank: 2, size: 4, coordinator: 'ws://10.0.0.1:29400' });
  });

  it('wins over GPUBENCH_RANK / GPUBENCH_WORLD_SIZE', () => {
    expect(detectLaunch({ ...ompi, GPUBENCH_RANK: '0', GPUBENCH_WORLD_SIZE: '9', GPUBENCH_COORDINATOR: 'ws://h:1' })).toMatchObject({ launcher: 'openmpi', rank: 2, size: 4 });
  });

  it('mpirun inside a Slurm allocation: Open MPI\'s ranks, not the batch step\'s SLURM_PROCID', () => {
    const got = detectLaunch({ ...ompi, SLURM_PROCID: '0', SLURM_NTASKS: '1', SLURM_LOCALID: '0', SLURM_JOB_NODELIST: 'gpu[01-02]', GPUBENCH_COORDINATOR: 'ws://gpu01:29400' });
    expect(got).toMatchObject({ launcher: 'openmpi', rank: 2, size: 4, localRank: 0, coordinator: 'ws://gpu01:29400' });
  });
});

describe('Slurm', () => {
  const slurm = { SLURM_PROCID: '3', SLURM_NTASKS: '8', SLURM_LOCALID: '1', SLURM_JOB_NODELIST: 'gpu[003-010,012],cpu01' };

  it('takes SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID and the first host of SLURM_JOB_NODELIST at the default port', () => {
    expect(detectLaunch(slurm)).toMatchObject({ launcher: 'slurm', rank: 3, size: 8, localRank: 1, coordinator: `ws://gpu003:${DEFAULT_COORDINATOR_PORT}` });
    expect(DEFAULT_COORDINATOR_PORT).toBe(29400);
  });

  it('GPUBENCH_COORDINATOR_PORT sets the port; GPUBENCH_COORDINATOR the whole address', () => {
    expect(detectLaunch({ ...slurm, GPUBENCH_COORDINATOR_PORT: '31000' })?.coordinator).toBe('ws://gpu003:31000');
    expect(detectLaunch({ ...slurm, GPUBENCH_COORDINATOR: 'ws://login1:4000', GPUBENCH_RANK: '0' })).toMatchObject({ launcher: 'slurm', rank: 3, coordinator: 'ws://login1:4000' });
  });

  it('falls back to SLURM_NODELIST, and prefers SLURM_JOB_NODELIST', () => {
    expect(detectLaunch({ SLURM_PROCID: '0', SLURM_NTASKS: '2', SLURM_NODELIST: 'n[7-8]' })?.coordinator).toBe('ws://n7:29400');
    expect(detectLaunch({ SLURM_PROCID: '0', SLURM_NTASKS: '2', SLURM_NODELIST: 'step[1-2]', SLURM_JOB_NODELIST: 'job[5-6]' })?.coordinator).toBe('ws://job5:29400');
  });

  it('first host of a node list, as `scontrol show hostnames | head -1`', () => {
    expect(firstSlurmHost('gpu[003-010,012],cpu01')).toBe('gpu003');
    expect(firstSlurmHost('node7')).toBe('node7');
    expect(firstSlurmHost('node7,node8')).toBe('node7');
    expect(firstSlurmHost('cpu01,gpu[1-2]')).toBe('cpu01');
    expect(firstSlurmHost('a[01-04]')).toBe('a01');
    expect(firstSlurmHost('rack1-node[05-08]')).toBe('rack1-node05');
    expect(firstSlurmHost(' gpu[1-2] ')).toBe('gpu1');
  });
});

describe('Kubernetes Indexed Job', () => {
  const pod = { JOB_COMPLETION_INDEX: '5', GPUBENCH_WORLD_SIZE: '6', GPUBENCH_COORDINATOR: 'ws://gpubench-coordinator:29400', HOSTNAME: 'gpubench-workers-5-x7k2q' };

  it('takes the rank from JOB_COMPLETION_INDEX, the size from GPUBENCH_WORLD_SIZE, the address from GPUBENCH_COORDINATOR', () => {
    expect(detectLaunch(pod)).toMatchObject({ launcher: 'kubernetes', rank: 5, size: 6, coordinator: 'ws://gpubench-coordinator:29400' });
  });

  it('JOB_COMPLETION_INDEX wins over GPUBENCH_RANK', () => {
    expect(detectLaunch({ ...pod, GPUBENCH_RANK: '0' })).toMatchObject({ launcher: 'kubernetes', rank: 5 });
  });
});

describe('explicit (no launcher)', () => {
  it('GPUBENCH_RANK / GPUBENCH_WORLD_SIZE / GPUBENCH_LOCAL_RANK / GPUBENCH_COORDINATOR', () => {
    expect(detectLaunch({ GPUBENCH_RANK: '1', GPUBENCH_WORLD_SIZE: '2', GPUBENCH_LOCAL_RANK: '1', GPUBENCH_COORDINATOR: 'ws://[::1]:9' }))
      .toMatchObject({ launcher: 'explicit', rank: 1, size: 2, localRank: 1, coordinator: 'ws://[::1]:9' });
  });

  it('GPUBENCH_COORDINATOR alone: an address, no rank (the coordinator assigns one)', () => {
    const got = detectLaunch({ GPUBENCH_COORDINATOR: 'ws://h:29400' });
    expect(got).toMatchObject({ launcher: 'explicit', coordinator: 'ws://h:29400' });
    expect(got?.rank).toBeUndefined();
  });

  it('nothing set: no launcher', () => {
    expect(detectLaunch({})).toBeUndefined();
    expect(detectLaunch({ PATH: '/usr/bin', HOME: '/root', MASTER_ADDR: 'head', MASTER_PORT: '29500' })).toBeUndefined();
  });
});

describe('empty variables count as unset', () => {
  it('an empty launcher variable does not select that launcher', () => {
    expect(detectLaunch({ RANK: '', WORLD_SIZE: '', OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '2' })).toMatchObject({ launcher: 'openmpi', rank: 1, size: 2 });
    expect(detectLaunch({ OMPI_COMM_WORLD_RANK: '', SLURM_PROCID: '0', SLURM_NTASKS: '1', SLURM_JOB_NODELIST: 'n1' })).toMatchObject({ launcher: 'slurm', rank: 0 });
    expect(detectLaunch({ SLURM_PROCID: '', JOB_COMPLETION_INDEX: '2', GPUBENCH_WORLD_SIZE: '3' })).toMatchObject({ launcher: 'kubernetes', rank: 2, size: 3 });
    expect(detectLaunch({ JOB_COMPLETION_INDEX: '', GPUBENCH_RANK: '', GPUBENCH_COORDINATOR: '' })).toBeUndefined();
  });

  it('empty GPUBENCH_COORDINATOR and GPUBENCH_COORDINATOR_PORT leave the launcher\'s address', () => {
    const got = detectLaunch({ RANK: '0', WORLD_SIZE: '1', MASTER_ADDR: 'head', MASTER_PORT: '29500', GPUBENCH_COORDINATOR: '', GPUBENCH_COORDINATOR_PORT: '' });
    expect(got).toMatchObject({ launcher: 'torchrun', coordinator: 'ws://head:29501' });
  });

  it('an empty SLURM_JOB_NODELIST falls back to SLURM_NODELIST', () => {
    expect(detectLaunch({ SLURM_PROCID: '0', SLURM_NTASKS: '1', SLURM_JOB_NODELIST: '', SLURM_NODELIST: 'n[3-4]' })?.coordinator).toBe('ws://n3:29400');
  });
});
