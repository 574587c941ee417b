/**
 * Reads the parts of an ONNX ModelProto the service needs before handing bytes to onnxruntime: that
 * the bytes are an ONNX model at all (a clear 400 instead of a native stack trace), the graph's inputs
 * and outputs, and the size of the user embedding so an out-of-range index is refused up front.
 * Field numbers follow onnx/onnx.proto3; unknown fields are skipped.
 */

/** ONNX TensorProto.DataType values, by number. */
const ELEM_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
};

/** A graph input or output: name, element type, shape (numbers fixed, strings symbolic, null unknown). */
export interface TensorInfo {
  name: string;
  type: string;
  shape: (number | string | null)[];
}

export interface OnnxSummary {
  irVersion: number;
  opset: number | null;
  producer: string;
  graphName: string;
  docString: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  nodes: { opType: string; inputs: string[]; outputs: string[] }[];
  initializers: { name: string; type: string; dims: number[] }[];
}

/** What the service serves: one int64 index per row in, one float score per item out. */
export interface ScoringSignature {
  input: TensorInfo;
  output: TensorInfo;
  /** Rows of the embedding the input indexes, when the graph shows it (Gather over an initializer). */
  users: number | null;
  /** Scores per row, when the output's second dimension is fixed. */
  items: number | null;
}

/** The bytes are not a well-formed ONNX model. */
export class OnnxFormatError extends Error {
  override name = 'OnnxFormatError';
}

type Field =
  | { no: number; wire: 0; value: bigint }
  | { no: number; wire: 2; bytes: Uint8Array }
  | { no: number; wire: 1 | 5 };

/** Iterates the fields of one protobuf message; throws {@link OnnxFormatError} on malformed input. */
function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= buf.length) throw new OnnxFormatError('truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new OnnxFormatError('varint longer than 10 bytes');
  };
  while (pos < buf.length) {
    const key = varint();
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (no === 0) throw new OnnxFormatError('field number 0');
    if (wire === 0) yield { no, wire, value: varint() };
    else if (wire === 2) {
      const len = Number(varint());
      if (pos + len > buf.length) throw new OnnxFormatError(`length-delimited field ${no} runs past the end`);
      yield { no, wire, bytes: buf.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
      if (pos > buf.length) throw new OnnxFormatError(`fixed-width field ${no} runs past the end`);
      yield { no, wire };
    } else throw new OnnxFormatError(`unsupported wire type ${wire}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function text(f: Field): string {
  if (f.wire !== 2) throw new OnnxFormatError(`field ${f.no} should be a string`);
  try {
    return utf8.decode(f.bytes);
  } catch {
    throw new OnnxFormatError(`field ${f.no} is not UTF-8`);
  }
}

function ints(f: Field): number[] {
  if (f.wire === 0) return [Number(BigInt.asIntN(64, f.value))];
  if (f.wire !== 2) throw new OnnxFormatError(`field ${f.no} should be an integer`);
  const out: number[] = [];
  for (const inner of fields(prefixPacked(f.bytes)))
    if (inner.wire === 0) out.push(Number(BigInt.asIntN(64, inner.value)));
  return out;
}

/** Packed repeated varints carry no tags; prefix each with field 1's tag so {@link fields} can read them. */
function prefixPacked(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  let start = true;
  for (const b of bytes) {
    if (start) out.push(0x08);
    out.push(b);
    start = (b & 0x80) === 0;
  }
  if (!start) throw new OnnxFormatError('truncated packed integers');
  return Uint8Array.from(out);
}

function valueInfo(buf: Uint8Array): TensorInfo {
  const info: TensorInfo = { name: '', type: 'unknown', shape: [] };
  for (const f of fields(buf)) {
    if (f.no === 1) info.name = text(f);
    else if (f.no === 2 && f.wire === 2) {
      for (const t of fields(f.bytes)) {
        if (t.no !== 1 || t.wire !== 2) continue; // tensor_type only; sequences/maps stay 'unknown'
        for (const tt of fields(t.bytes)) {
          if (tt.no === 1 && tt.wire === 0) info.type = ELEM_TYPES[Number(tt.value)] ?? `type_${tt.value}`;
          else if (tt.no === 2 && tt.wire === 2) {
            for (const d of fields(tt.bytes)) {
              if (d.no !== 1 || d.wire !== 2) continue;
              let dim: number | string | null = null;
              for (const dv of fields(d.bytes)) {
                if (dv.no === 1 && dv.wire === 0) dim = Number(BigInt.asIntN(64, dv.value));
                else if (dv.no === 2) dim = text(dv);
              }
              info.shape.push(dim);
            }
          }
        }
      }
    }
  }
  return info;
}

/** Parses an ONNX ModelProto's header and graph structure (not the weights). */
export function inspectOnnx(bytes: Uint8Array): OnnxSummary {
  if (bytes.length === 0) throw new OnnxFormatError('empty file');
  const s: OnnxSummary = {
    irVersion: 0,
    opset: null,
    producer: '',
    graphName: '',
    docString: '',
    inputs: [],
    outputs: [],
    nodes: [],
    initializers: [],
  };
  let graph: Uint8Array | undefined;
  for (const f of fields(bytes)) {
    if (f.no === 1 && f.wire === 0) s.irVersion = Number(f.value);
    else if (f.no === 2) s.producer = text(f);
    else if (f.no === 6) s.docString = text(f);
    else if (f.no === 7 && f.wire === 2) graph = f.bytes;
    else if (f.no === 8 && f.wire === 2) {
      let domain = '';
      let version: number | null = null;
      for (const o of fields(f.bytes)) {
        if (o.no === 1) domain = text(o);
        else if (o.no === 2 && o.wire === 0) version = Number(o.value);
      }
      if (domain === '' || domain === 'ai.onnx') s.opset = version;
    }
  }
  // IR versions 1..12 exist today; anything else means these bytes are not a ModelProto.
  if (s.irVersion < 1 || s.irVersion > 20)
    throw new OnnxFormatError(`no valid ir_version (found ${s.irVersion})`);
  if (!graph) throw new OnnxFormatError('no graph');
  for (const f of fields(graph)) {
    if (f.wire !== 2) continue;
    if (f.no === 1) {
      const node = { opType: '', inputs: [] as string[], outputs: [] as string[] };
      for (const n of fields(f.bytes)) {
        if (n.no === 1) node.inputs.push(text(n));
        else if (n.no === 2) node.outputs.push(text(n));
        else if (n.no === 4) node.opType = text(n);
      }
      s.nodes.push(node);
    } else if (f.no === 2) s.graphName = text(f);
    else if (f.no === 5) {
      const init = { name: '', type: 'unknown', dims: [] as number[] };
      for (const t of fields(f.bytes)) {
        if (t.no === 1) init.dims.push(...ints(t));
        else if (t.no === 2 && t.wire === 0) init.type = ELEM_TYPES[Number(t.value)] ?? `type_${t.value}`;
        else if (t.no === 8) init.name = text(t);
      }
      s.initializers.push(init);
    } else if (f.no === 11) s.inputs.push(valueInfo(f.bytes));
    else if (f.no === 12) s.outputs.push(valueInfo(f.bytes));
  }
  // Before IR 4 initializers were also listed as inputs; callers only feed the rest.
  const initNames = new Set(s.initializers.map((i) => i.name));
  s.inputs = s.inputs.filter((i) => !initNames.has(i.name));
  if (s.nodes.length === 0) throw new OnnxFormatError('graph has no nodes');
  if (s.inputs.length === 0 || s.outputs.length === 0)
    throw new OnnxFormatError('graph has no inputs or no outputs');
  return s;
}

/**
 * Checks that a model has the recommender's scoring signature: exactly one int64 input of rank 1
 * (row indices) and one float32 output of rank 2 (`[rows, items]`). Returns a reason when it has not.
 */
export function scoringSignature(s: OnnxSummary): ScoringSignature | { reason: string } {
  const describe = (t: TensorInfo) => `${t.name}:${t.type}[${t.shape.map((d) => d ?? '?').join(',')}]`;
  const seen = `inputs ${s.inputs.map(describe).join(', ')}; outputs ${s.outputs.map(describe).join(', ')}`;
  const [input] = s.inputs;
  const output = s.outputs[0];
  if (s.inputs.length !== 1 || !input || input.type !== 'int64' || input.shape.length !== 1) {
    return {
      reason: `expected exactly one int64 input of shape [batch] (row indices); the model has ${seen}`,
    };
  }
  if (!output || output.type !== 'float32' || output.shape.length !== 2) {
    return {
      reason: `expected a float32 output of shape [batch, items] as the first output; the model has ${seen}`,
    };
  }
  const gather = s.nodes.find((n) => n.opType === 'Gather' && n.inputs[1] === input.name);
  const table = gather ? s.initializers.find((i) => i.name === gather.inputs[0]) : undefined;
  const users = table && table.dims.length >= 1 ? table.dims[0]! : null;
  const itemsDim = output.shape[1];
  return { input, output, users, items: typeof itemsDim === 'number' && itemsDim > 0 ? itemsDim : null };
}
