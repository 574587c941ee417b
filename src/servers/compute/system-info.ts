import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** What accelerator detection looked at, and what it found. */
export interface AcceleratorProbe {
  accelerators: { kind: string; device: string }[];
  checks: { check: string; found: boolean; detail: string }[];
}

function onPath(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, bin);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function listDev(prefix: string, dir = '/dev'): string[] {
  try {
    return fs.readdirSync(dir).filter((f) => f.startsWith(prefix)).map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/**
 * Looks for GPUs the honest way: NVIDIA device nodes and driver, `nvidia-smi` on PATH, AMD's KFD node,
 * DRI render nodes. Nothing is assumed; an empty list means none was found.
 */
export function probeAccelerators(): AcceleratorProbe {
  const nvidiaDevs = listDev('nvidia').filter((d) => /nvidia\d+$/.test(d));
  const nvidiaDriver = fs.existsSync('/proc/driver/nvidia/version');
  const smi = onPath('nvidia-smi');
  const kfd = fs.existsSync('/dev/kfd');
  const render = listDev('renderD', '/dev/dri');
  const accelerators = [
    ...nvidiaDevs.map((d) => ({ kind: 'nvidia', device: d })),
    ...(kfd ? [{ kind: 'amd-rocm', device: '/dev/kfd' }] : []),
  ];
  return {
    accelerators,
    checks: [
      { check: '/dev/nvidia<N> device nodes', found: nvidiaDevs.length > 0, detail: nvidiaDevs.join(', ') || 'none' },
      { check: '/proc/driver/nvidia/version', found: nvidiaDriver, detail: nvidiaDriver ? 'present' : 'absent' },
      { check: 'nvidia-smi on PATH', found: Boolean(smi), detail: smi ?? 'absent' },
      { check: '/dev/kfd (AMD ROCm)', found: kfd, detail: kfd ? 'present' : 'absent' },
      { check: '/dev/dri/renderD* render nodes', found: render.length > 0, detail: render.join(', ') || 'none' },
    ],
  };
}

/** CPU, load and memory as node:os reports them now. */
export function hostSnapshot() {
  const cpus = os.cpus();
  const total = os.totalmem();
  const free = os.freemem();
  const [l1, l5, l15] = os.loadavg();
  return {
    cpu_count: cpus.length,
    cpu_model: cpus[0]?.model.trim() ?? 'unknown',
    load_average: { '1m': l1 ?? 0, '5m': l5 ?? 0, '15m': l15 ?? 0 },
    memory: { total_bytes: total, free_bytes: free, used_bytes: total - free, process_rss_bytes: process.memoryUsage().rss },
  };
}

/** Free and total bytes of the file system holding `dir`. */
export function diskSnapshot(dir: string): { free_bytes: number; total_bytes: number } {
  const s = fs.statfsSync(dir);
  return { free_bytes: s.bavail * s.bsize, total_bytes: s.blocks * s.bsize };
}
