import { mulberry32, initFactors } from '../../../../src/servers/compute/als';
import { encodeRecommenderOnnx, ProtoWriter } from '../../../../src/servers/compute/onnx-encoder';
import { verifyOnnxParityInWorker as verifyOnnxParity } from '../../../../src/servers/compute/onnx-verify';

describe('ONNX export', () => {
  it('when encoding varints, then values follow protobuf base-128 little-endian groups', () => {
    const w = new ProtoWriter().int(1, 300).int(2, -1);
    const bytes = Array.from(w.finish());
    expect(bytes.slice(0, 3)).toEqual([0x08, 0xac, 0x02]);
    // Negative int64 is a 10-byte two's-complement varint.
    expect(bytes.slice(3)).toEqual([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  it('when onnxruntime loads the hand-encoded model, then its scores match the in-process dot products', async () => {
    const rand = mulberry32(9);
    const users = 40;
    const items = 25;
    const factors = 6;
    const userFactors = initFactors(users, factors, rand).map((v) => v * 100);
    const itemFactors = initFactors(items, factors, rand).map((v) => v * 100);
    const bytes = encodeRecommenderOnnx({ userFactors, itemFactors, users, items, factors, docString: 'test' });
    const report = await verifyOnnxParity(bytes, { userFactors, itemFactors, items, factors }, [0, 5, 39, 17]);
    expect(report.usersChecked).toBe(4);
    expect(report.maxAbsDiff).toBeLessThan(1e-4);
    expect(report.allTopKIdentical).toBe(true);
  });

  it('when factor arrays do not match the declared shape, then encoding refuses', () => {
    expect(() =>
      encodeRecommenderOnnx({ userFactors: new Float32Array(5), itemFactors: new Float32Array(4), users: 2, items: 2, factors: 2 }),
    ).toThrow(/userFactors length/);
  });

  it('when bytes are not a valid model, then onnxruntime rejects them', async () => {
    await expect(
      verifyOnnxParity(Uint8Array.from([1, 2, 3]), { userFactors: new Float32Array(2), itemFactors: new Float32Array(2), items: 1, factors: 2 }, [0]),
    ).rejects.toThrow();
  });
});
