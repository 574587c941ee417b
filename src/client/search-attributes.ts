import type { Client } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';

const registered = new Map<string, Promise<boolean>>();

/**
 * Whether the namespace has our search attributes. Registers them when missing and the server allows
 * it (self-hosted clusters); Temporal Cloud and restricted roles refuse, and runs then start without
 * them rather than fail. Checked once per namespace per process.
 */
function ensureRegistered(client: Client, namespace: string): Promise<boolean> {
  let known = registered.get(namespace);
  if (!known) {
    known = (async () => {
      const ops = client.connection.operatorService;
      try {
        const { customAttributes } = await ops.listSearchAttributes({ namespace });
        const missing = Object.values(SEARCH_ATTRIBUTES).filter((k) => !customAttributes?.[k.name]);
        if (missing.length === 0) return true;
        // 2 = INDEXED_VALUE_TYPE_KEYWORD; a newly added attribute may take a moment to be usable, so this
        // process does not rely on it, the next one will.
        await ops.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((k) => [k.name, 2])) });
        return false;
      } catch {
        return false;
      }
    })();
    registered.set(namespace, known);
  }
  return known;
}

/**
 * Search attributes for a run of `pipeline`, for `workflow.start`'s `typedSearchAttributes`; undefined
 * when the namespace does not have them.
 */
export async function runSearchAttributes(client: Client, namespace: string, pipeline: string): Promise<SearchAttributePair[] | undefined> {
  if (!(await ensureRegistered(client, namespace))) return undefined;
  return [
    { key: SEARCH_ATTRIBUTES.pipeline, value: pipeline },
    { key: SEARCH_ATTRIBUTES.outcome, value: 'running' },
  ];
}
