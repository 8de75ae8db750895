/**
 * Makes MediaPipe's selfie segmentation model (npm package @mediapipe/selfie_segmentation, the
 * only segmentation model obtainable from npm) usable by MediaPipe Tasks' ImageSegmenter, which
 * @pexip/media-processor runs.
 *
 * The packaged .tflite has no TFLite model metadata, and the Tasks API refuses a float input
 * tensor without NormalizationOptions ("it requires specifying NormalizationOptions metadata to
 * preprocess input images"). This adds a TFLITE_METADATA entry saying what the model expects:
 * an RGB image scaled to [0, 1] (mean 0, std 255), and one confidence mask out.
 *
 * A FlatBuffer's offsets only point forward, so the Model table cannot grow in place. Instead a
 * new root Model table is written in front of the unchanged original (whose internal offsets
 * are relative, so they survive the shift); it points at the original's operator codes,
 * subgraphs and buffers, plus one new buffer holding the metadata.
 */

import { Builder } from 'flatbuffers';

const MODEL_IDENTIFIER = 'TFL3';
const METADATA_IDENTIFIER = 'M001';
export const METADATA_NAME = 'TFLITE_METADATA';

// tflite schema: Model fields.
const MODEL_FIELDS = 8; // version .. signature_defs
const F_VERSION = 0;
const F_BUFFERS = 4;
const F_METADATA = 6;

class Reader {
    private readonly view: DataView;

    constructor(readonly bytes: Uint8Array) {
        this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }

    u16(at: number): number {
        return this.view.getUint16(at, true);
    }

    u32(at: number): number {
        return this.view.getUint32(at, true);
    }

    i32(at: number): number {
        return this.view.getInt32(at, true);
    }

    root(): number {
        return this.u32(0);
    }

    /** Absolute position of a table's field slot, or null when the field is absent. */
    field(table: number, id: number): number | null {
        const vtable = table - this.i32(table);
        const size = this.u16(vtable);
        if (4 + 2 * id >= size) {
            return null;
        }
        const offset = this.u16(vtable + 4 + 2 * id);
        return offset ? table + offset : null;
    }

    /** Follows the uoffset stored at `slot`. */
    deref(slot: number): number {
        return slot + this.u32(slot);
    }

    /** Positions of a vector's elements (for a vector of offsets: of their slots). */
    vector(slot: number, elementSize = 4): number[] {
        const start = this.deref(slot);
        const length = this.u32(start);
        return Array.from({ length }, (_, i) => start + 4 + i * elementSize);
    }

    string(slot: number): string {
        const start = this.deref(slot);
        return new TextDecoder().decode(this.bytes.subarray(start + 4, start + 4 + this.u32(start)));
    }
}

/** The metadata FlatBuffer (metadata_schema.fbs, identifier M001). */
export const buildSegmenterMetadata = (): Uint8Array => {
    const b = new Builder(512);
    const floats = (values: number[]): number => {
        b.startVector(4, values.length, 4);
        for (const value of [...values].reverse()) {
            b.addFloat32(value);
        }
        return b.endVector();
    };
    const offsets = (values: number[]): number => {
        b.startVector(4, values.length, 4);
        for (const value of [...values].reverse()) {
            b.addOffset(value);
        }
        return b.endVector();
    };
    const imageContent = (colorSpace: number): number => {
        b.startObject(2); // ImageProperties
        b.addFieldInt8(0, colorSpace, 0); // color_space: 1 RGB, 2 GRAYSCALE
        const properties = b.endObject();
        b.startObject(3); // Content
        b.addFieldInt8(0, 2, 0); // content_properties_type: ImageProperties
        b.addFieldOffset(1, properties, 0);
        return b.endObject();
    };

    // Input: RGB in [0, 255], the model wants [0, 1].
    const mean = floats([0]);
    const std = floats([255]);
    b.startObject(2); // NormalizationOptions
    b.addFieldOffset(0, mean, 0);
    b.addFieldOffset(1, std, 0);
    const normalization = b.endObject();
    b.startObject(2); // ProcessUnit
    b.addFieldInt8(0, 1, 0); // options_type: NormalizationOptions
    b.addFieldOffset(1, normalization, 0);
    const processUnit = b.endObject();
    const processUnits = offsets([processUnit]);
    const statsMax = floats([1]);
    const statsMin = floats([0]);
    b.startObject(2); // Stats
    b.addFieldOffset(0, statsMax, 0);
    b.addFieldOffset(1, statsMin, 0);
    const stats = b.endObject();
    const inputName = b.createString('image');
    const inputDescription = b.createString('The image to segment (RGB).');
    const inputContent = imageContent(1);
    b.startObject(7); // TensorMetadata
    b.addFieldOffset(0, inputName, 0);
    b.addFieldOffset(1, inputDescription, 0);
    b.addFieldOffset(3, inputContent, 0);
    b.addFieldOffset(4, processUnits, 0);
    b.addFieldOffset(5, stats, 0);
    const input = b.endObject();

    // Output: one channel, the confidence that a pixel shows the person.
    const outputName = b.createString('segmentation_masks');
    const outputDescription = b.createString('Confidence that each pixel shows the person.');
    const outputContent = imageContent(2);
    b.startObject(7); // TensorMetadata
    b.addFieldOffset(0, outputName, 0);
    b.addFieldOffset(1, outputDescription, 0);
    b.addFieldOffset(3, outputContent, 0);
    const output = b.endObject();

    const inputs = offsets([input]);
    const outputs = offsets([output]);
    const subgraphName = b.createString('SelfieSegmentation');
    b.startObject(10); // SubGraphMetadata
    b.addFieldOffset(0, subgraphName, 0);
    b.addFieldOffset(2, inputs, 0);
    b.addFieldOffset(3, outputs, 0);
    const subgraph = b.endObject();
    const subgraphs = offsets([subgraph]);

    const name = b.createString('Selfie segmentation (landscape)');
    const description = b.createString(
        'MediaPipe selfie segmentation, from the npm package @mediapipe/selfie_segmentation ' +
            '(Apache-2.0); metadata added by meetbridge for MediaPipe Tasks.',
    );
    const license = b.createString('Apache License. Version 2.0 http://www.apache.org/licenses/LICENSE-2.0.');
    const minParser = b.createString('1.0.0');
    b.startObject(8); // ModelMetadata
    b.addFieldOffset(0, name, 0);
    b.addFieldOffset(1, description, 0);
    b.addFieldOffset(3, subgraphs, 0);
    b.addFieldOffset(5, license, 0);
    b.addFieldOffset(7, minParser, 0);
    const root = b.endObject();
    b.finish(root, METADATA_IDENTIFIER);
    return b.asUint8Array().slice();
};

/** Little-endian writer over a growing byte array, for the new root table in front. */
class Writer {
    bytes: number[] = [];

    get position(): number {
        return this.bytes.length;
    }

    align(to: number, offsetWithin = 0): void {
        while ((this.bytes.length + offsetWithin) % to !== 0) {
            this.bytes.push(0);
        }
    }

    u16(value: number): void {
        this.bytes.push(value & 0xff, (value >>> 8) & 0xff);
    }

    u32(value: number): void {
        this.bytes.push(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
    }

    setU32(at: number, value: number): void {
        this.bytes[at] = value & 0xff;
        this.bytes[at + 1] = (value >>> 8) & 0xff;
        this.bytes[at + 2] = (value >>> 16) & 0xff;
        this.bytes[at + 3] = (value >>> 24) & 0xff;
    }

    raw(data: Uint8Array): void {
        for (const byte of data) {
            this.bytes.push(byte);
        }
    }
}

/** The model with a TFLITE_METADATA entry; models that already have metadata are refused. */
export const addSegmenterMetadata = (model: Uint8Array, metadata = buildSegmenterMetadata()): Uint8Array => {
    const old = new Reader(model);
    if (new TextDecoder().decode(model.subarray(4, 8)) !== MODEL_IDENTIFIER) {
        throw new Error('not a TFLite model');
    }
    const oldRoot = old.root();
    if (old.field(oldRoot, F_METADATA) !== null) {
        throw new Error('the model already has metadata');
    }
    const buffersSlot = old.field(oldRoot, F_BUFFERS);
    if (buffersSlot === null) {
        throw new Error('the model has no buffers');
    }
    const oldBuffers = old.vector(buffersSlot).map(slot => old.deref(slot));

    // Offsets to patch once the prefix length (the shift of the original) is known:
    // [position in prefix, absolute target in the original model].
    const toOriginal: [number, number][] = [];
    // [position in prefix, position in prefix].
    const toPrefix: [number, number][] = [];

    const w = new Writer();
    w.u32(0); // root offset, patched below
    w.raw(new TextEncoder().encode(MODEL_IDENTIFIER));

    // Model vtable: fields 0..6.
    const fieldCount = F_METADATA + 1;
    const tableSize = 4 + 4 * fieldCount;
    const modelVtable = w.position;
    w.u16(4 + 2 * fieldCount);
    w.u16(tableSize);
    for (let id = 0; id < fieldCount; id += 1) {
        w.u16(4 + 4 * id);
    }
    w.align(4);
    const modelTable = w.position;
    w.u32(modelTable - modelVtable); // soffset to the vtable
    const slots: number[] = [];
    for (let id = 0; id < fieldCount; id += 1) {
        slots.push(w.position);
        w.u32(0);
    }
    const version = old.field(oldRoot, F_VERSION);
    w.setU32(slots[F_VERSION] as number, version === null ? 3 : old.u32(version));
    for (let id = 1; id < MODEL_FIELDS - 2; id += 1) {
        const slot = old.field(oldRoot, id);
        if (id !== F_BUFFERS && slot !== null) {
            toOriginal.push([slots[id] as number, old.deref(slot)]);
        }
    }

    // buffers: the original ones, then the metadata buffer.
    w.align(4);
    toPrefix.push([slots[F_BUFFERS] as number, w.position]);
    w.u32(oldBuffers.length + 1);
    for (const buffer of oldBuffers) {
        toOriginal.push([w.position, buffer]);
        w.u32(0);
    }
    const newBufferEntry = w.position;
    w.u32(0);

    // metadata: [Metadata { name: "TFLITE_METADATA", buffer: <new index> }]
    toPrefix.push([slots[F_METADATA] as number, w.position]);
    w.u32(1);
    const metadataEntry = w.position;
    w.u32(0);
    const metadataVtable = w.position;
    w.u16(8);
    w.u16(12);
    w.u16(4);
    w.u16(8);
    const metadataTable = w.position;
    toPrefix.push([metadataEntry, metadataTable]);
    w.u32(metadataTable - metadataVtable);
    const nameSlot = w.position;
    w.u32(0);
    w.u32(oldBuffers.length); // buffer index
    const nameString = w.position;
    toPrefix.push([nameSlot, nameString]);
    const nameBytes = new TextEncoder().encode(METADATA_NAME);
    w.u32(nameBytes.length);
    w.raw(nameBytes);
    w.bytes.push(0);

    // Buffer { data: [ubyte] } holding the metadata FlatBuffer, 16-byte aligned.
    w.align(4);
    const bufferVtable = w.position;
    w.u16(6);
    w.u16(8);
    w.u16(4);
    w.align(4);
    const bufferTable = w.position;
    toPrefix.push([newBufferEntry, bufferTable]);
    w.u32(bufferTable - bufferVtable);
    const dataSlot = w.position;
    w.u32(0);
    w.align(16, 4);
    toPrefix.push([dataSlot, w.position]);
    w.u32(metadata.length);
    w.raw(metadata);
    w.align(64); // the original keeps its alignment

    const shift = w.position;
    w.setU32(0, modelTable);
    for (const [at, target] of toPrefix) {
        w.setU32(at, target - at);
    }
    for (const [at, target] of toOriginal) {
        w.setU32(at, target + shift - at);
    }
    const out = new Uint8Array(shift + model.length);
    out.set(w.bytes, 0);
    out.set(model, shift);
    return out;
};

/** For tests: the model's metadata entries, with the bytes of their buffers. */
export const readModelMetadata = (model: Uint8Array): { name: string; data: Uint8Array }[] => {
    const r = new Reader(model);
    const root = r.root();
    const metadata = r.field(root, F_METADATA);
    const buffersSlot = r.field(root, F_BUFFERS);
    if (metadata === null || buffersSlot === null) {
        return [];
    }
    const buffers = r.vector(buffersSlot).map(slot => r.deref(slot));
    return r.vector(metadata).map(slot => {
        const table = r.deref(slot);
        const nameSlot = r.field(table, 0);
        const indexSlot = r.field(table, 1);
        const buffer = buffers[indexSlot === null ? 0 : r.u32(indexSlot)] as number;
        const dataSlot = r.field(buffer, 0);
        const data = dataSlot === null ? new Uint8Array() : (() => {
            const start = r.deref(dataSlot);
            return model.subarray(start + 4, start + 4 + r.u32(start));
        })();
        return { name: nameSlot === null ? '' : r.string(nameSlot), data };
    });
};

/** For tests: the model's subgraph input/output tensor shapes (proves the original survives). */
export const readTensorShapes = (model: Uint8Array): { inputs: number[][]; outputs: number[][] } => {
    const r = new Reader(model);
    const [subgraphSlot] = r.vector(r.field(r.root(), 2) as number);
    const subgraph = r.deref(subgraphSlot as number);
    const tensors = r.vector(r.field(subgraph, 0) as number).map(slot => r.deref(slot));
    const shape = (index: number): number[] =>
        r.vector(r.field(tensors[index] as number, 0) as number).map(at => r.i32(at));
    const indices = (id: number): number[] => r.vector(r.field(subgraph, id) as number).map(at => r.i32(at));
    return { inputs: indices(1).map(shape), outputs: indices(2).map(shape) };
};
