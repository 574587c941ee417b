/**
 * Hand-written ONNX protobuf encoder for the recommender graph (no onnx package is available):
 *
 *   user_idx:int64[N] ──Gather(axis 0)── user_embedding:float[U,K] ──► user_vec:float[N,K]
 *   user_vec ──MatMul── item_embedding_t:float[K,I] ──► scores:float[N,I]
 *
 * Field numbers follow onnx/onnx.proto3 (IR version 8, default opset 13).
 */

/** ONNX TensorProto.DataType values used here. */
export const OnnxDataType = { FLOAT: 1, INT64: 7 } as const;
const ATTRIBUTE_INT = 2;

/** Minimal protobuf writer: varints and length-delimited fields, enough for ONNX models. */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: 0 | 2): void {
    this.varint((field << 3) | wire);
  }

  /** int32/int64/enum field (wire type 0). */
  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(value.length);
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  /** Packed repeated int64 (proto3 default for repeated scalars). */
  packedInts(field: number, values: readonly number[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/** A dimension: a fixed size or a symbolic name (batch). */
type Dim = number | string;

function valueInfo(w: ProtoWriter, name: string, elemType: number, dims: Dim[]): void {
  w.string(1, name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, elemType);
      tensor.message(2, (shape) => {
        for (const d of dims) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

function floatTensor(w: ProtoWriter, name: string, dims: number[], data: Float32Array): void {
  w.packedInts(1, dims);
  w.int(2, OnnxDataType.FLOAT);
  w.string(8, name);
  // raw_data is little-endian by spec; copy so a subarray view's offset never leaks other bytes.
  const le = new Uint8Array(data.length * 4);
  const view = new DataView(le.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  w.bytes(9, le);
}

export interface RecommenderOnnxInput {
  userFactors: Float32Array;
  itemFactors: Float32Array;
  users: number;
  items: number;
  factors: number;
  /** Free text stored in the model's doc_string (ids, metrics). */
  docString?: string;
  producerVersion?: string;
}

/** Names of the exported graph's inputs and outputs. */
export const ONNX_IO = { input: 'user_idx', output: 'scores', userVector: 'user_vec' } as const;
export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 8;

/** Encodes the recommender as an ONNX ModelProto. */
export function encodeRecommenderOnnx(m: RecommenderOnnxInput): Uint8Array {
  if (m.userFactors.length !== m.users * m.factors) throw new Error('userFactors length does not match users × factors');
  if (m.itemFactors.length !== m.items * m.factors) throw new Error('itemFactors length does not match items × factors');
  // MatMul wants [K, I]: store the item embedding transposed so the graph needs no Transpose node.
  const itemT = new Float32Array(m.items * m.factors);
  for (let i = 0; i < m.items; i++) for (let a = 0; a < m.factors; a++) itemT[a * m.items + i] = m.itemFactors[i * m.factors + a]!;

  const model = new ProtoWriter();
  model.int(1, ONNX_IR_VERSION);
  model.string(2, 'mcp-orchestrator-compute');
  model.string(3, m.producerVersion ?? '0.1.0');
  model.string(4, 'mcp-orchestrator.compute');
  model.int(5, 1);
  if (m.docString) model.string(6, m.docString);
  model.message(7, (g) => {
    g.message(1, (n) => {
      n.string(1, 'user_embedding');
      n.string(1, ONNX_IO.input);
      n.string(2, ONNX_IO.userVector);
      n.string(3, 'gather_user');
      n.string(4, 'Gather');
      n.message(5, (a) => a.string(1, 'axis').int(3, 0).int(20, ATTRIBUTE_INT));
    });
    g.message(1, (n) => {
      n.string(1, ONNX_IO.userVector);
      n.string(1, 'item_embedding_t');
      n.string(2, ONNX_IO.output);
      n.string(3, 'score_items');
      n.string(4, 'MatMul');
    });
    g.string(2, 'implicit_als_recommender');
    g.message(5, (t) => floatTensor(t, 'user_embedding', [m.users, m.factors], m.userFactors));
    g.message(5, (t) => floatTensor(t, 'item_embedding_t', [m.factors, m.items], itemT));
    g.string(10, 'scores[n, i] = dot(user_embedding[user_idx[n]], item_embedding[i])');
    g.message(11, (v) => valueInfo(v, ONNX_IO.input, OnnxDataType.INT64, ['batch']));
    g.message(12, (v) => valueInfo(v, ONNX_IO.output, OnnxDataType.FLOAT, ['batch', m.items]));
  });
  model.message(8, (o) => o.string(1, '').int(2, ONNX_OPSET));
  return model.finish();
}
