/**
 * Local media: camera and microphone (getUserMedia), device lists and switching, speaker
 * selection (setSinkId where the browser has it), screen capture for presenting, and background
 * effects (blur, replacement) through @pexip/media-processor.
 *
 * The effects run MediaPipe's selfie segmentation in a worker. Every file they need — the worker,
 * MediaPipe's wasm and the model — is copied from npm packages into `effects/` next to
 * meeting.js at build time, and loaded from this page's own origin.
 */

import {
    createCanvasTransform,
    createSegmenter,
    createVideoProcessor,
    createVideoTrackProcessor,
    createVideoTrackProcessorWithFallback,
    type Segmenter,
    type VideoProcessor,
} from '@pexip/media-processor';

import { explainEffectsFailure } from './state';

export type Effect = 'none' | 'blur' | 'replace';

export interface DeviceLists {
    microphones: MediaDeviceInfo[];
    cameras: MediaDeviceInfo[];
    speakers: MediaDeviceInfo[];
}

export class EffectsUnavailableError extends Error {
    override name = 'EffectsUnavailableError';
}

/** Where the effects' files are served: `effects/` beside meeting.js. */
export const effectsBase = (): URL => new URL(/* @vite-ignore */ './effects/', import.meta.url);

export const supportsSpeakerSelection = (): boolean =>
    typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

export const supportsScreenSharing = (): boolean =>
    typeof navigator !== 'undefined' &&
    typeof navigator.mediaDevices?.getDisplayMedia === 'function';

/** Words for a getUserMedia / getDisplayMedia failure. */
export const explainMediaError = (error: unknown, what: string): string => {
    const name = error instanceof Error ? error.name : '';
    switch (name) {
        case 'NotAllowedError':
        case 'SecurityError':
            return `Permission to use the ${what} was denied.`;
        case 'NotFoundError':
        case 'OverconstrainedError':
            return `No ${what} was found.`;
        case 'NotReadableError':
        case 'AbortError':
            return `The ${what} is in use by another application or could not be started.`;
        default:
            return `The ${what} could not be used${error instanceof Error && error.message ? `: ${error.message}` : ''}.`;
    }
};

const PROCESSING_WIDTH = 640;
const PROCESSING_HEIGHT = 360;
const BACKGROUND_KEY = 'meetbridge-background';

/** A calm generated picture for background replacement (no file to fetch). */
const makeBackground = async (): Promise<ImageBitmap> => {
    const canvas = document.createElement('canvas');
    canvas.width = 1280;
    canvas.height = 720;
    const ctx = canvas.getContext('2d');
    if (!ctx) {
        throw new EffectsUnavailableError('This browser cannot draw the replacement background.');
    }
    const sky = ctx.createLinearGradient(0, 0, 0, canvas.height);
    sky.addColorStop(0, '#2f5d8a');
    sky.addColorStop(0.6, '#8fb3cf');
    sky.addColorStop(1, '#d9c9a8');
    ctx.fillStyle = sky;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = 'rgba(255, 255, 255, 0.18)';
    for (let i = 0; i < 7; i += 1) {
        ctx.beginPath();
        ctx.arc(120 + i * 190, 160 + (i % 3) * 60, 60 + (i % 2) * 40, 0, Math.PI * 2);
        ctx.fill();
    }
    ctx.fillStyle = '#5b6b4a';
    ctx.fillRect(0, canvas.height * 0.78, canvas.width, canvas.height * 0.22);
    return createImageBitmap(canvas);
};

interface EffectPipeline {
    effect: Exclude<Effect, 'none'>;
    segmenter: Segmenter;
    processor: VideoProcessor;
    track: MediaStreamTrack;
    unsubscribe: (() => void)[];
}

export class LocalMedia {
    private audio: MediaStreamTrack | null = null;
    private video: MediaStreamTrack | null = null;
    private pipeline: EffectPipeline | null = null;
    private micMuted = false;
    private cameraOff = false;
    /** The stream handed to the call: microphone and (processed) camera. */
    private outgoingStream = new MediaStream();

    /** Called when a running effect breaks (the camera goes back to unprocessed video). */
    onEffectFailed: (message: string) => void = () => undefined;

    get stream(): MediaStream {
        return this.outgoingStream;
    }

    get hasMicrophone(): boolean {
        return this.audio !== null;
    }

    get hasCamera(): boolean {
        return this.video !== null;
    }

    get effect(): Effect {
        return this.pipeline?.effect ?? 'none';
    }

    get microphoneId(): string {
        return this.audio?.getSettings().deviceId ?? '';
    }

    get cameraId(): string {
        return this.video?.getSettings().deviceId ?? '';
    }

    /** Opens camera and microphone; returns warnings for whatever could not be opened. */
    async start(): Promise<string[]> {
        const warnings: string[] = [];
        if (!navigator.mediaDevices?.getUserMedia) {
            return ['This browser gives the page no access to a camera or microphone.'];
        }
        try {
            const both = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
            this.audio = both.getAudioTracks()[0] ?? null;
            this.video = both.getVideoTracks()[0] ?? null;
        } catch {
            // Try each on its own, to say which one is the problem.
            for (const kind of ['audio', 'video'] as const) {
                try {
                    const one = await navigator.mediaDevices.getUserMedia({ [kind]: true });
                    this[kind] = one.getTracks()[0] ?? null;
                } catch (error) {
                    warnings.push(explainMediaError(error, kind === 'audio' ? 'microphone' : 'camera'));
                }
            }
        }
        this.rebuildStream();
        return warnings;
    }

    async devices(): Promise<DeviceLists> {
        const all = navigator.mediaDevices?.enumerateDevices
            ? await navigator.mediaDevices.enumerateDevices()
            : [];
        return {
            microphones: all.filter(d => d.kind === 'audioinput'),
            cameras: all.filter(d => d.kind === 'videoinput'),
            speakers: all.filter(d => d.kind === 'audiooutput'),
        };
    }

    setMicMuted(muted: boolean): void {
        this.micMuted = muted;
        if (this.audio) {
            this.audio.enabled = !muted;
        }
    }

    setCameraOff(off: boolean): void {
        this.cameraOff = off;
        if (this.video) {
            this.video.enabled = !off;
        }
        if (this.pipeline) {
            this.pipeline.track.enabled = !off;
        }
    }

    /** Switches the microphone; the returned stream must be handed to the call. */
    async useMicrophone(deviceId: string): Promise<MediaStream> {
        const fresh = await navigator.mediaDevices.getUserMedia({
            audio: { deviceId: { exact: deviceId } },
        });
        this.audio?.stop();
        this.audio = fresh.getAudioTracks()[0] ?? null;
        this.setMicMuted(this.micMuted);
        this.rebuildStream();
        return this.outgoingStream;
    }

    /** Switches the camera (keeping any effect); the returned stream goes to the call. */
    async useCamera(deviceId: string): Promise<MediaStream> {
        const fresh = await navigator.mediaDevices.getUserMedia({
            video: { deviceId: { exact: deviceId } },
        });
        const effect = this.effect;
        await this.stopEffect();
        this.video?.stop();
        this.video = fresh.getVideoTracks()[0] ?? null;
        if (effect !== 'none') {
            try {
                await this.startEffect(effect);
            } catch (error) {
                this.onEffectFailed(error instanceof Error ? error.message : String(error));
            }
        }
        this.setCameraOff(this.cameraOff);
        this.rebuildStream();
        return this.outgoingStream;
    }

    /**
     * Applies a background effect. Throws EffectsUnavailableError, with a message for the user,
     * when this browser cannot run it; the camera then stays as it was.
     */
    async setEffect(effect: Effect): Promise<MediaStream> {
        if (effect === this.effect) {
            return this.outgoingStream;
        }
        await this.stopEffect();
        try {
            if (effect !== 'none') {
                await this.startEffect(effect);
            }
        } finally {
            this.setCameraOff(this.cameraOff);
            this.rebuildStream();
        }
        return this.outgoingStream;
    }

    stop(): void {
        void this.stopEffect();
        this.audio?.stop();
        this.video?.stop();
        this.audio = null;
        this.video = null;
        this.rebuildStream();
    }

    private rebuildStream(): void {
        const video = this.pipeline?.track ?? this.video;
        this.outgoingStream = new MediaStream(
            [this.audio, video].filter((t): t is MediaStreamTrack => t !== null),
        );
    }

    private async startEffect(effect: Exclude<Effect, 'none'>): Promise<void> {
        if (!this.video) {
            throw new EffectsUnavailableError('Background effects need a camera, and none is in use.');
        }
        if (typeof Worker === 'undefined' || typeof OffscreenCanvas === 'undefined') {
            throw new EffectsUnavailableError(
                'Background effects are not available in this browser (no OffscreenCanvas).',
            );
        }
        const base = effectsBase();
        const problems: string[] = [];
        const segmenter = createSegmenter(new URL('wasm', base).href, {
            modelAsset: {
                path: new URL('models/selfie_segmentation_landscape.tflite', base).href,
                modelName: 'selfie',
            },
            workerScriptUrl: new URL('mediaWorker.js', base),
            log: (message: string, meta?: unknown) => {
                if (typeof meta === 'string' && meta) {
                    problems.push(meta);
                } else if (meta && typeof meta === 'object' && 'error' in meta) {
                    problems.push(String((meta as { error: unknown }).error));
                }
                console.debug('[effects]', message, meta);
            },
        });
        const backgroundImage =
            effect === 'replace' ? { key: BACKGROUND_KEY, image: await makeBackground() } : undefined;
        const renderOptions = {
            effects: effect === 'blur' ? ('blur' as const) : ('overlay' as const),
            backgroundImageUrl: effect === 'replace' ? BACKGROUND_KEY : '',
            backgroundBlurAmount: 6,
            edgeBlurAmount: 3,
            foregroundThreshold: 0.5,
            maskCombineRatio: 0.5,
            backend: 'webgl' as const,
        };
        await segmenter.open({
            processingWidth: PROCESSING_WIDTH,
            processingHeight: PROCESSING_HEIGHT,
            renderOptions,
            ...(backgroundImage ? { backgroundImage } : {}),
        });
        if (segmenter.status === 'Error') {
            await segmenter.destroy();
            throw new EffectsUnavailableError(explainEffectsFailure(problems.join(' ')));
        }
        const transform = createCanvasTransform(segmenter, {
            width: PROCESSING_WIDTH,
            height: PROCESSING_HEIGHT,
            ...renderOptions,
            ...(backgroundImage ? { backgroundImage } : {}),
        });
        const trackProcessor =
            'MediaStreamTrackProcessor' in globalThis && 'MediaStreamTrackGenerator' in globalThis
                ? createVideoTrackProcessor()
                : createVideoTrackProcessorWithFallback({
                      width: PROCESSING_WIDTH,
                      height: PROCESSING_HEIGHT,
                  });
        const processor = createVideoProcessor([transform], trackProcessor);
        await processor.open();
        const processed = await processor.process(new MediaStream([this.video]));
        const track = processed.getVideoTracks()[0];
        if (!track) {
            processor.close();
            await segmenter.destroy();
            throw new EffectsUnavailableError('The background effect produced no video.');
        }
        const failed = (): void => {
            void this.stopEffect().then(() => {
                this.rebuildStream();
                this.onEffectFailed(
                    'The background effect stopped working in this browser; your camera is shown without it.',
                );
            });
        };
        const unsubscribe = (['Error', 'ContextCreationError', 'SamplingError'] as const).map(event =>
            segmenter.subscribe(event, failed),
        );
        this.pipeline = { effect, segmenter, processor, track, unsubscribe };
    }

    private async stopEffect(): Promise<void> {
        const pipeline = this.pipeline;
        if (!pipeline) {
            return;
        }
        this.pipeline = null;
        for (const off of pipeline.unsubscribe) {
            off();
        }
        pipeline.processor.close();
        pipeline.track.stop();
        try {
            await pipeline.segmenter.destroy();
        } catch {
            // The worker is gone either way.
        }
    }
}

/** Routes the sound of these elements to a speaker, where the browser allows it. */
export const useSpeaker = async (elements: HTMLMediaElement[], deviceId: string): Promise<void> => {
    if (!supportsSpeakerSelection()) {
        throw new Error('This browser cannot choose the speaker.');
    }
    await Promise.all(
        elements.map(element =>
            (element as HTMLMediaElement & { setSinkId(id: string): Promise<void> }).setSinkId(deviceId),
        ),
    );
};

/** Asks the user what to share (screen, window or tab), with its sound when `audio` and allowed. */
export const captureScreen = async (audio = false): Promise<MediaStream> =>
    navigator.mediaDevices.getDisplayMedia({ video: true, audio });
