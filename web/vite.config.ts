// Builds the meeting page into the Python package's static folder with stable file names:
// meeting.js, meeting.css and effects/ (the background-effects worker, MediaPipe's wasm and the
// selfie segmentation model, all copied from npm packages so that nothing loads from elsewhere).
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

import { addSegmenterMetadata } from './scripts/segmenter-model';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(here, '../src/meetbridge/web/static/meeting');
const modules = resolve(here, 'node_modules');

/** Files the background effects load at run time, from our own origin. */
const EFFECT_ASSETS: [from: string, to: string][] = [
    ['@pexip/media-processor/dist/workers/mediaWorker.js', 'effects/mediaWorker.js'],
    ['@mediapipe/tasks-vision/wasm', 'effects/wasm'],
];

/** The segmentation model, with the metadata MediaPipe Tasks needs (see scripts/). */
const MODEL = {
    from: '@mediapipe/selfie_segmentation/selfie_segmentation_landscape.tflite',
    to: 'effects/models/selfie_segmentation_landscape.tflite',
};

const copyEffectAssets = (): Plugin => ({
    name: 'meetbridge-copy-effect-assets',
    apply: 'build',
    writeBundle() {
        for (const [from, to] of EFFECT_ASSETS) {
            const target = resolve(outDir, to);
            mkdirSync(dirname(target), { recursive: true });
            cpSync(resolve(modules, from), target, { recursive: true });
        }
        const model = resolve(outDir, MODEL.to);
        mkdirSync(dirname(model), { recursive: true });
        writeFileSync(model, addSegmenterMetadata(readFileSync(resolve(modules, MODEL.from))));
    },
});

export default defineConfig({
    base: './',
    publicDir: false,
    plugins: [copyEffectAssets()],
    build: {
        outDir,
        emptyOutDir: true,
        target: 'es2022',
        sourcemap: false,
        // Mostly the SDK's response validators; gzipped it is under 100 kB.
        chunkSizeWarningLimit: 1200,
        cssCodeSplit: false,
        rollupOptions: {
            input: resolve(here, 'src/main.ts'),
            output: {
                entryFileNames: 'meeting.js',
                chunkFileNames: 'chunks/[name]-[hash].js',
                assetFileNames: info =>
                    info.names.some(name => name.endsWith('.css'))
                        ? 'meeting.css'
                        : 'assets/[name]-[hash][extname]',
            },
        },
    },
    test: {
        include: ['tests/**/*.test.ts'],
        environment: 'node',
    },
});
