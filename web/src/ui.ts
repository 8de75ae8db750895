/**
 * The DOM: binds the server-rendered markup of meeting.html to actions, and renders state into
 * it. Every control is a real <button> (or a labelled <select>) with an accessible name; toggles
 * keep a constant name and report their state through aria-pressed / aria-expanded.
 */

import type { ParticipantView } from './call';
import type { DeviceLists, Effect } from './media';
import {
    canRetry,
    inCall,
    layoutView,
    phaseOf,
    statusText,
    type ConnectionState,
    type LayoutState,
} from './state';

export interface ViewActions {
    toggleMicrophone(): void;
    toggleCamera(): void;
    toggleShare(): void;
    togglePopOut(): void;
    toggleMain(): void;
    leave(): void;
    retry(): void;
    chooseMicrophone(deviceId: string): void;
    chooseCamera(deviceId: string): void;
    chooseSpeaker(deviceId: string): void;
    chooseEffect(effect: Effect): void;
}

const byId = <T extends HTMLElement>(doc: Document, id: string): T => {
    const element = doc.getElementById(id);
    if (!element) {
        throw new Error(`The meeting page has no #${id}.`);
    }
    return element as T;
};

const setPressed = (button: HTMLButtonElement, pressed: boolean): void => {
    button.setAttribute('aria-pressed', String(pressed));
};

const setLabel = (button: HTMLButtonElement, text: string): void => {
    const label = button.querySelector('.mb-label');
    if (label) {
        label.textContent = text;
    }
};

export class MeetingView {
    readonly remoteVideo: HTMLVideoElement;
    readonly presentationVideo: HTMLVideoElement;
    private readonly doc: Document;
    private readonly status: HTMLElement;
    private readonly problem: HTMLElement;
    private readonly problemTitle: HTMLElement;
    private readonly problemText: HTMLElement;
    private readonly retry: HTMLButtonElement;
    private readonly stage: HTMLElement;
    private readonly peopleSlot: HTMLElement;
    private readonly peopleEmpty: HTMLElement;
    private readonly presentationSlot: HTMLElement;
    private readonly presenter: HTMLElement;
    private readonly thumbnail: HTMLButtonElement;
    private readonly selfView: HTMLVideoElement;
    private readonly enableSound: HTMLButtonElement;
    private readonly participantsPanel: HTMLElement;
    private readonly participantCount: HTMLElement;
    private readonly participantList: HTMLUListElement;
    private readonly settings: HTMLElement;
    private readonly microphone: HTMLSelectElement;
    private readonly camera: HTMLSelectElement;
    private readonly speaker: HTMLSelectElement;
    private readonly speakerHint: HTMLElement;
    private readonly effectButtons: Record<Effect, HTMLButtonElement>;
    private readonly effectsMessage: HTMLElement;
    private readonly noticeLine: HTMLElement;
    private readonly mic: HTMLButtonElement;
    private readonly cameraToggle: HTMLButtonElement;
    private readonly share: HTMLButtonElement;
    private readonly popOut: HTMLButtonElement;
    private readonly swap: HTMLButtonElement;
    private readonly participantsToggle: HTMLButtonElement;
    private readonly settingsToggle: HTMLButtonElement;
    private readonly leave: HTMLButtonElement;
    private connected = false;
    private noticeTimer: number | undefined;

    constructor(doc: Document, actions: ViewActions) {
        this.doc = doc;
        const get = <T extends HTMLElement>(id: string): T => byId<T>(doc, id);
        this.status = get('mb-status');
        this.problem = get('mb-problem');
        this.problemTitle = get('mb-problem-title');
        this.problemText = get('mb-problem-text');
        this.retry = get('mb-retry');
        this.stage = get('mb-stage');
        this.peopleSlot = get('mb-people-slot');
        this.peopleEmpty = get('mb-people-empty');
        this.presentationSlot = get('mb-presentation-slot');
        this.presenter = get('mb-presenter');
        this.remoteVideo = get('mb-remote-video');
        this.presentationVideo = get('mb-presentation-video');
        this.thumbnail = get('mb-thumbnail');
        this.selfView = get('mb-self-view');
        this.enableSound = get('mb-enable-sound');
        this.participantsPanel = get('mb-participants');
        this.participantCount = get('mb-participant-count');
        this.participantList = get('mb-participant-list');
        this.settings = get('mb-settings');
        this.microphone = get('mb-microphone');
        this.camera = get('mb-camera');
        this.speaker = get('mb-speaker');
        this.speakerHint = get('mb-speaker-hint');
        this.effectButtons = {
            none: get('mb-effect-none'),
            blur: get('mb-effect-blur'),
            replace: get('mb-effect-replace'),
        };
        this.effectsMessage = get('mb-effects-message');
        this.noticeLine = get('mb-notice');
        this.mic = get('mb-mic');
        this.cameraToggle = get('mb-camera-toggle');
        this.share = get('mb-share');
        this.popOut = get('mb-popout');
        this.swap = get('mb-swap');
        this.participantsToggle = get('mb-participants-toggle');
        this.settingsToggle = get('mb-settings-toggle');
        this.leave = get('mb-leave');

        this.mic.addEventListener('click', () => actions.toggleMicrophone());
        this.cameraToggle.addEventListener('click', () => actions.toggleCamera());
        this.share.addEventListener('click', () => actions.toggleShare());
        this.popOut.addEventListener('click', () => actions.togglePopOut());
        this.swap.addEventListener('click', () => actions.toggleMain());
        this.thumbnail.addEventListener('click', () => actions.toggleMain());
        this.leave.addEventListener('click', () => actions.leave());
        this.retry.addEventListener('click', () => actions.retry());
        this.microphone.addEventListener('change', () => actions.chooseMicrophone(this.microphone.value));
        this.camera.addEventListener('change', () => actions.chooseCamera(this.camera.value));
        this.speaker.addEventListener('change', () => actions.chooseSpeaker(this.speaker.value));
        for (const [effect, button] of Object.entries(this.effectButtons) as [Effect, HTMLButtonElement][]) {
            button.addEventListener('click', () => actions.chooseEffect(effect));
        }
        this.participantsToggle.addEventListener('click', () =>
            this.togglePanel(this.participantsToggle, this.participantsPanel),
        );
        this.settingsToggle.addEventListener('click', () =>
            this.togglePanel(this.settingsToggle, this.settings),
        );
        this.enableSound.addEventListener('click', () => {
            this.remoteVideo.muted = false;
            void this.remoteVideo.play().then(() => {
                this.enableSound.hidden = true;
            });
        });
        doc.addEventListener('keydown', event => {
            if (event.key === 'Escape' && !this.settings.hidden) {
                this.togglePanel(this.settingsToggle, this.settings);
                this.settingsToggle.focus();
            }
        });
    }

    renderConnection(state: ConnectionState, failureTitle?: string): void {
        const phase = phaseOf(state);
        this.status.textContent = statusText(state);
        this.status.dataset['state'] = phase;
        this.doc.body.dataset['state'] = phase;
        this.connected = inCall(state);
        this.leave.disabled = !this.connected;
        this.share.disabled = !this.connected || this.share.dataset['unsupported'] === 'true';
        const showProblem = canRetry(state);
        this.problem.hidden = !showProblem;
        if (showProblem) {
            const ended = phase === 'ended';
            this.problemTitle.textContent = failureTitle ?? (ended ? 'Meeting ended' : 'Could not join the meeting');
            this.problemText.textContent = state.failure?.message ?? state.ended?.reason ?? '';
            this.retry.textContent = ended ? 'Rejoin' : 'Retry';
            this.problem.dataset['kind'] = state.failure?.kind ?? 'ended';
        }
    }

    /** Moves focus to Retry (after a failure the user's next step is there). */
    focusRetry(): void {
        if (!this.problem.hidden) {
            this.retry.focus();
        }
    }

    renderLayout(layout: LayoutState, presenterName: string): void {
        const view = layoutView(layout);
        this.stage.dataset['main'] = view.main;
        this.stage.dataset['thumbnail'] = view.thumbnail ?? 'none';
        const receiving = layout.presentation === 'receiving';
        this.presentationSlot.hidden = !receiving || layout.poppedOut;
        this.presenter.textContent = receiving && presenterName ? `${presenterName} is presenting` : '';
        this.thumbnail.hidden = view.thumbnail === null;
        this.thumbnail.setAttribute(
            'aria-label',
            view.thumbnail === 'people'
                ? 'Show people in the main area'
                : 'Show the presentation in the main area',
        );
        this.swap.disabled = view.thumbnail === null;
        setPressed(this.swap, view.main === 'presentation' && receiving);
        this.popOut.disabled = !receiving;
        setPressed(this.popOut, layout.poppedOut);
        setPressed(this.share, layout.presentation === 'sending');
        setLabel(this.share, layout.presentation === 'sending' ? 'Stop sharing' : 'Share screen');
    }

    setMicrophoneMuted(muted: boolean, available: boolean): void {
        setPressed(this.mic, muted);
        setLabel(this.mic, muted ? 'Unmute' : 'Mute');
        this.mic.dataset['available'] = String(available);
    }

    setCameraOff(off: boolean, available: boolean): void {
        setPressed(this.cameraToggle, off);
        setLabel(this.cameraToggle, off ? 'Start video' : 'Stop video');
        this.cameraToggle.dataset['available'] = String(available);
        this.selfView.hidden = off || !available;
    }

    setShareSupported(supported: boolean): void {
        this.share.dataset['unsupported'] = String(!supported);
        if (!supported) {
            this.share.disabled = true;
            this.share.title = 'This browser cannot share the screen.';
        }
    }

    setEffect(effect: Effect): void {
        for (const [name, button] of Object.entries(this.effectButtons) as [Effect, HTMLButtonElement][]) {
            setPressed(button, name === effect);
        }
    }

    setEffectsMessage(message: string): void {
        this.effectsMessage.textContent = message;
    }

    setEffectsBusy(busy: boolean): void {
        for (const button of Object.values(this.effectButtons)) {
            button.disabled = busy;
        }
    }

    setDevices(devices: DeviceLists, current: { microphone: string; camera: string }, speakerSupported: boolean): void {
        const fill = (select: HTMLSelectElement, list: MediaDeviceInfo[], selected: string, noun: string): void => {
            select.replaceChildren(
                ...list.map((device, index) => {
                    const option = this.doc.createElement('option');
                    option.value = device.deviceId;
                    option.textContent = device.label || `${noun} ${index + 1}`;
                    option.selected = device.deviceId === selected;
                    return option;
                }),
            );
            if (!list.length) {
                const option = this.doc.createElement('option');
                option.textContent = `No ${noun.toLowerCase()} found`;
                option.value = '';
                select.append(option);
            }
            select.disabled = list.length === 0;
        };
        fill(this.microphone, devices.microphones, current.microphone, 'Microphone');
        fill(this.camera, devices.cameras, current.camera, 'Camera');
        fill(this.speaker, devices.speakers, this.speaker.value || 'default', 'Speaker');
        if (!speakerSupported) {
            this.speaker.disabled = true;
            this.speakerHint.hidden = false;
        }
    }

    showSelf(stream: MediaStream): void {
        this.selfView.srcObject = stream.getVideoTracks().length ? new MediaStream(stream.getVideoTracks()) : null;
    }

    showRemote(stream: MediaStream): void {
        this.remoteVideo.srcObject = stream;
        this.peopleEmpty.hidden = stream.getVideoTracks().length > 0;
        this.remoteVideo.play().catch((error: unknown) => {
            if (error instanceof Error && error.name === 'NotAllowedError') {
                // Autoplay with sound was blocked: play silently and offer the sound.
                this.remoteVideo.muted = true;
                void this.remoteVideo.play();
                this.enableSound.hidden = false;
            }
        });
    }

    showPresentation(stream: MediaStream | null): void {
        this.presentationVideo.srcObject = stream;
        if (stream) {
            void this.presentationVideo.play().catch(() => undefined);
        }
    }

    renderParticipants(list: ParticipantView[]): void {
        this.participantCount.textContent = String(list.length);
        const sorted = [...list].sort((a, b) =>
            a.isMe === b.isMe ? a.displayName.localeCompare(b.displayName) : a.isMe ? -1 : 1,
        );
        this.participantList.replaceChildren(
            ...sorted.map(p => {
                const item = this.doc.createElement('li');
                item.dataset['uuid'] = p.uuid;
                const name = this.doc.createElement('span');
                name.className = 'mb-name';
                name.textContent = p.isMe ? `${p.displayName} (you)` : p.displayName;
                item.append(name);
                const tags = [
                    p.isHost ? 'host' : 'guest',
                    p.isPresenting ? 'presenting' : '',
                    p.isMuted ? 'muted' : '',
                    p.isCameraMuted ? 'camera off' : '',
                    p.isWaiting ? 'waiting' : '',
                ].filter(Boolean);
                const detail = this.doc.createElement('span');
                detail.className = 'mb-tags';
                detail.textContent = tags.join(', ');
                item.append(' ', detail);
                return item;
            }),
        );
    }

    notice(message: string): void {
        this.noticeLine.textContent = message;
        window.clearTimeout(this.noticeTimer);
        this.noticeTimer = window.setTimeout(() => {
            this.noticeLine.textContent = '';
        }, 8000);
    }

    /** The speaker-bearing elements (for setSinkId). */
    mediaElements(): HTMLMediaElement[] {
        return [this.remoteVideo, this.presentationVideo];
    }

    private togglePanel(button: HTMLButtonElement, panel: HTMLElement): void {
        const open = panel.hidden;
        panel.hidden = !open;
        button.setAttribute('aria-expanded', String(open));
        if (open && panel === this.settings) {
            this.microphone.focus();
        }
    }
}

/**
 * Shows the presentation in its own window. Returns a function that closes it; `onClosed` runs
 * when the user closes the window. Null when the browser blocked the pop-up.
 */
export const openPresentationWindow = (
    stream: MediaStream | null,
    title: string,
    onClosed: () => void,
): (() => void) | null => {
    const popup = window.open('', 'meetbridge-presentation', 'popup,width=960,height=600');
    if (!popup) {
        return null;
    }
    const doc = popup.document;
    doc.title = `Presentation · ${title}`;
    doc.body.replaceChildren();
    doc.body.style.cssText = 'margin:0;background:#000;display:flex;height:100vh';
    const video = doc.createElement('video');
    video.autoplay = true;
    video.muted = true;
    video.playsInline = true;
    video.setAttribute('aria-label', 'Presentation');
    video.style.cssText = 'width:100%;height:100%;object-fit:contain';
    video.srcObject = stream;
    doc.body.append(video);
    void video.play().catch(() => undefined);
    let closing = false;
    const watch = window.setInterval(() => {
        if (popup.closed) {
            window.clearInterval(watch);
            if (!closing) {
                onClosed();
            }
        }
    }, 500);
    return () => {
        closing = true;
        window.clearInterval(watch);
        popup.close();
    };
};
