import fs from 'node:fs';
import { stopProcess } from '../../src/client/stack/processes';

export default async function globalTeardown(): Promise<void> {
  const pid = Number(process.env.MCP_IT_TEMPORAL_PID);
  if (pid) await stopProcess(pid, 10_000);
  const dir = process.env.MCP_IT_DIR;
  if (dir && !process.env.MCP_IT_KEEP) fs.rmSync(dir, { recursive: true, force: true });
}
