// Builds the plugin's webapp bundle (dist/main.js, the manifest's webapp.bundle_path): one
// self-registering script. React and ReactDOM are the Mattermost web app's own (window.React,
// window.ReactDOM), so they are externals and the bundle ships neither.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = dirname(fileURLToPath(import.meta.url));

export default defineConfig({
    publicDir: false,
    // Classic JSX (React.createElement): the automatic runtime would import react/jsx-runtime,
    // which the web app does not provide.
    oxc: { jsx: { runtime: 'classic' } },
    build: {
        outDir: resolve(here, 'dist'),
        emptyOutDir: true,
        target: 'es2020',
        sourcemap: false,
        minify: true,
        lib: {
            entry: resolve(here, 'src/index.tsx'),
            formats: ['iife'],
            name: 'meetbridgeCompanion',
            fileName: () => 'main.js',
        },
        rollupOptions: {
            external: ['react', 'react-dom'],
            output: { globals: { react: 'React', 'react-dom': 'ReactDOM' } },
        },
    },
    test: {
        include: ['tests/**/*.test.ts'],
        environment: 'node',
    },
});
