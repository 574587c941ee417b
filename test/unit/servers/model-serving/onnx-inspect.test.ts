import { encodeRecommenderOnnx, ProtoWriter } from '../../../../src/servers/compute/onnx-encoder';
import {
  inspectOnnx,
  OnnxFormatError,
  scoringSignature,
} from '../../../../src/servers/model-serving/onnx-inspect';

const users = 7;
const items = 5;
const factors = 3;
const model = encodeRecommenderOnnx({
  userFactors: new Float32Array(users * factors).fill(0.5),
  itemFactors: new Float32Array(items * factors).fill(0.25),
  users,
  items,
  factors,
  docString: 'doc',
});

describe('inspectOnnx', () => {
  test('when given the compute encoder output, then it reads IR version, opset, nodes, initializers and IO', () => {
    const s = inspectOnnx(model);
    expect(s.irVersion).toBe(8);
    expect(s.opset).toBe(13);
    expect(s.producer).toBe('mcp-orchestrator-compute');
    expect(s.docString).toBe('doc');
    expect(s.nodes.map((n) => n.opType)).toEqual(['Gather', 'MatMul']);
    expect(s.initializers).toEqual([
      { name: 'user_embedding', type: 'float32', dims: [users, factors] },
      { name: 'item_embedding_t', type: 'float32', dims: [factors, items] },
    ]);
    expect(s.inputs).toEqual([{ name: 'user_idx', type: 'int64', shape: ['batch'] }]);
    expect(s.outputs).toEqual([{ name: 'scores', type: 'float32', shape: ['batch', items] }]);
  });

  test('when the recommender is checked, then its signature gives the user and item counts', () => {
    const sig = scoringSignature(inspectOnnx(model));
    expect(sig).toMatchObject({ users, items, input: { name: 'user_idx' }, output: { name: 'scores' } });
  });

  test.each([
    ['empty bytes', new Uint8Array()],
    ['text', new TextEncoder().encode('customer_id,product_id\n1,2\n')],
    ['a truncated model', model.subarray(0, model.length - 40)],
    ['random bytes', Uint8Array.from({ length: 512 }, (_, i) => (i * 131 + 7) % 256)],
    ['a PNG header', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])],
  ])('when given %s, then it throws OnnxFormatError', (_what, bytes) => {
    expect(() => inspectOnnx(bytes)).toThrow(OnnxFormatError);
  });

  test('when a graph has a float input, then the signature check says what was expected and what was found', () => {
    const w = new ProtoWriter();
    w.int(1, 8);
    w.message(7, (g) => {
      g.message(1, (n) => n.string(1, 'x').string(2, 'y').string(4, 'Relu'));
      const vi = (v: ProtoWriter, name: string) =>
        v
          .string(1, name)
          .message(2, (t) =>
            t.message(1, (tt) => tt.int(1, 1).message(2, (sh) => sh.message(1, (d) => d.string(2, 'n')))),
          );
      g.message(11, (v) => vi(v, 'x'));
      g.message(12, (v) => vi(v, 'y'));
    });
    const sig = scoringSignature(inspectOnnx(w.finish()));
    expect(sig).toEqual({ reason: expect.stringContaining('expected exactly one int64 input') });
    expect((sig as { reason: string }).reason).toContain('x:float32[n]');
  });
});
