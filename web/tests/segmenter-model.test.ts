/// <reference types="node" />
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { ByteBuffer } from 'flatbuffers';
import { describe, expect, it } from 'vitest';

import {
    METADATA_NAME,
    addSegmenterMetadata,
    buildSegmenterMetadata,
    readModelMetadata,
    readTensorShapes,
} from '../scripts/segmenter-model';

const require = createRequire(import.meta.url);
const original = new Uint8Array(
    readFileSync(require.resolve('@mediapipe/selfie_segmentation/selfie_segmentation_landscape.tflite')),
);

describe('segmentation model metadata', () => {
    it('starts without metadata', () => {
        expect(readModelMetadata(original)).toEqual([]);
    });

    it('adds TFLITE_METADATA and keeps the model itself', () => {
        const patched = addSegmenterMetadata(original);
        expect(new TextDecoder().decode(patched.subarray(4, 8))).toBe('TFL3');
        const [entry, ...rest] = readModelMetadata(patched);
        expect(rest).toEqual([]);
        expect(entry?.name).toBe(METADATA_NAME);
        expect(Array.from(entry?.data ?? [])).toEqual(Array.from(buildSegmenterMetadata()));
        expect(readTensorShapes(patched)).toEqual(readTensorShapes(original));
        expect(readTensorShapes(patched)).toEqual({ inputs: [[1, 144, 256, 3]], outputs: [[1, 144, 256, 1]] });
        // The original follows the new root, 64-byte aligned, byte for byte.
        const shift = patched.length - original.length;
        expect(shift % 64).toBe(0);
        expect(patched.subarray(shift)).toEqual(original);
    });

    it('writes metadata MediaPipe can read: identifier M001, normalisation of the input', () => {
        const bb = new ByteBuffer(buildSegmenterMetadata());
        expect(bb.getBufferIdentifier()).toBe('M001');
        const root = bb.readInt32(0);
        const field = (table: number, id: number): number => {
            const offset = bb.__offset(table, 4 + 2 * id);
            return offset ? table + offset : 0;
        };
        const subgraphs = field(root, 3);
        const subgraph = bb.__indirect(bb.__vector(subgraphs));
        const input = bb.__indirect(bb.__vector(field(subgraph, 2)));
        expect(bb.__string(field(input, 0))).toBe('image');
        const unit = bb.__indirect(bb.__vector(field(input, 4)));
        expect(bb.readInt8(field(unit, 0))).toBe(1); // NormalizationOptions
        const options = bb.__indirect(field(unit, 1));
        expect(bb.readFloat32(bb.__vector(field(options, 0)))).toBe(0);
        expect(bb.readFloat32(bb.__vector(field(options, 1)))).toBe(255);
    });

    it('refuses a model that already has metadata', () => {
        expect(() => addSegmenterMetadata(addSegmenterMetadata(original))).toThrow(/already has metadata/);
    });
});
