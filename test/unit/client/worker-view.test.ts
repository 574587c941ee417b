import { parseExposition } from '../../../src/observability/metrics/parse';
import { endpointViewsFromSamples, workerViewLines } from '../../../src/client/worker-view';

const scrape = `
# HELP mcp_worker_breaker_state Circuit breaker per endpoint: 0 closed, 1 half-open, 2 open.
# TYPE mcp_worker_breaker_state gauge
mcp_worker_breaker_state{worker="data",group="data",endpoint="http://127.0.0.1:8001/mcp"} 2
mcp_worker_breaker_state{worker="data",group="data",endpoint="http://127.0.0.1:8101/mcp"} 0
mcp_worker_breaker_opens{worker="data",group="data",endpoint="http://127.0.0.1:8001/mcp"} 1
mcp_worker_endpoint_up{worker="data",group="data",endpoint="http://127.0.0.1:8001/mcp"} 0
mcp_worker_endpoint_up{worker="data",group="data",endpoint="http://127.0.0.1:8101/mcp"} 1
mcp_worker_endpoint_in_flight{worker="data",group="data",endpoint="http://127.0.0.1:8101/mcp"} 3
mcp_worker_endpoint_latency_seconds{worker="data",group="data",endpoint="http://127.0.0.1:8101/mcp"} 0.0125
mcp_worker_rate_budget_per_minute{worker="data",group="data",endpoint="http://127.0.0.1:8101/mcp"} 1200
mcp_worker_rate_budget_tokens{worker="data",group="data",endpoint="http://127.0.0.1:8101/mcp"} 1187
`;

describe('mcp-orch servers: endpoints as the workers see them', () => {
  it('when a worker reports an open breaker on the primary, then the view shows it open and down, the replica closed and loaded', () => {
    const views = endpointViewsFromSamples(parseExposition(scrape));
    const primary = views.find((v) => v.endpoint.includes('8001'))!;
    const replica = views.find((v) => v.endpoint.includes('8101'))!;
    expect(primary).toMatchObject({ group: 'data', breaker: 'open', breakerOpens: 1, up: false });
    expect(replica).toMatchObject({ breaker: 'closed', up: true, inFlight: 3, latencyMs: 12.5, rateBudgetPerMinute: 1200, rateBudgetTokens: 1187 });
    const lines = workerViewLines(views);
    expect(lines.join('\n')).toMatch(/8001\/mcp +breaker open +DOWN/);
    expect(lines.join('\n')).toMatch(/8101\/mcp +breaker closed +up +in-flight 3 +last 12.5 ms.*rate budget 1187\/1200 per min/);
  });
});
