import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';

/**
 * The memory a process may use before it is killed or starved: the cgroup v2 (or v1) limit when one
 * is set, else the machine's RAM. Read at scrape time because a container's limit can change.
 */
export function memoryLimitBytes(): number {
  const total = os.totalmem();
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const raw = fs.readFileSync(file, 'utf8').trim();
      // cgroup v1 reports "no limit" as a huge number; v2 as "max".
      const n = Number(raw);
      if (raw !== 'max' && Number.isFinite(n) && n > 0 && n < total) return n;
    } catch {
      // not in a cgroup that limits memory
    }
  }
  return total;
}

/**
 * Registers process resource metrics on `registry`: prom-client's defaults (CPU seconds, RSS, heap,
 * event-loop lag, open fds, GC) with `labels`, plus the limits that make them meaningful for alerts
 * (`process_memory_limit_bytes`, `nodejs_heap_size_limit_bytes`) and, when `dataDir` is given, the free
 * and total bytes of the filesystem holding it. Every value is measured at scrape time.
 */
export function registerProcessMetrics(registry: Registry, labels: Record<string, string>, dataDir?: string): void {
  collectDefaultMetrics({ register: registry, labels });
  const labelNames = Object.keys(labels);
  new Gauge({
    name: 'process_memory_limit_bytes',
    help: 'Memory this process may use: the cgroup limit when set, else the machine RAM.',
    labelNames,
    registers: [registry],
    collect() {
      this.set(labels, memoryLimitBytes());
    },
  });
  new Gauge({
    name: 'nodejs_heap_size_limit_bytes',
    help: 'V8 heap size limit: the heap cannot grow past it (out-of-memory crash).',
    labelNames,
    registers: [registry],
    collect() {
      this.set(labels, v8.getHeapStatistics().heap_size_limit);
    },
  });
  if (dataDir) {
    const diskLabels = [...labelNames, 'path'];
    // A folder not created yet will live on its nearest existing ancestor's filesystem.
    const read = (): fs.StatsFs | undefined => {
      for (let dir = path.resolve(dataDir); ; dir = path.dirname(dir)) {
        try {
          return fs.statfsSync(dir);
        } catch {
          if (path.dirname(dir) === dir) return undefined;
        }
      }
    };
    new Gauge({
      name: 'mcp_data_disk_free_bytes',
      help: 'Bytes available to this process on the filesystem holding its data folder.',
      labelNames: diskLabels,
      registers: [registry],
      collect() {
        this.reset();
        const s = read();
        if (s) this.set({ ...labels, path: dataDir }, s.bavail * s.bsize);
      },
    });
    new Gauge({
      name: 'mcp_data_disk_size_bytes',
      help: 'Total bytes of the filesystem holding the data folder.',
      labelNames: diskLabels,
      registers: [registry],
      collect() {
        this.reset();
        const s = read();
        if (s) this.set({ ...labels, path: dataDir }, s.blocks * s.bsize);
      },
    });
  }
}
