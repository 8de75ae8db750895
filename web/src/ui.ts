/**
 * The DOM: binds the server-rendered markup of meeting.html to actions, and renders state into
 * it. Every control is a real <button> (or a labelled <select>) with an accessible name. A
 * toggle either keeps a constant name and reports its state through aria-pressed/aria-expanded,
 * or (microphone, camera, share, hand) has a name that says what pressing it will do, matching
 * its visible text.
 */

import type { ControlAction } from './controls';
import type { ChatLine, EngineParticipant, HandEntry, VideoTile } from './engine';
import type { DeviceLists, Effect } from './media';
import { personTags, REACTIONS, type Person } from './social';
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
    toggleHand(): void;
    react(emoji: string): void;
    sendChat(text: string): void;
    /** A host action on one person: sent once per device (`ids`). */
    hostAction(action: ControlAction, ids: string[]): void;
    /** A host action on the whole meeting. */
    meetingAction(action: 'mute-all' | 'lower-all-hands' | 'end'): void;
    /** The host's Start/Stop recording button. */
    toggleRecording(): void;
}

const REACTION_NAMES: Record<string, string> = {
    '👍': 'Thumbs up',
    '👏': 'Applause',
    '😂': 'Laughing',
    '❤️': 'Heart',
    '🎉': 'Celebration',
    '😮': 'Surprised',
};

/** Host actions offered per person, in menu order. */
const PERSON_ACTIONS: [ControlAction, string][] = [
    ['mute', 'Mute'],
    ['ask-unmute', 'Ask to unmute'],
    ['lower-hand', 'Lower hand'],
    ['stop-screenshare', 'Stop screen share'],
    ['make-host', 'Make host'],
    ['remove', 'Remove from meeting'],
];

const REACTION_SHOWN_MS = 4000;
const MAX_REACTIONS_SHOWN = 8;

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
    private readonly tiles: HTMLElement;
    private readonly audio: HTMLElement;
    private readonly reactionStream: HTMLUListElement;
    private readonly announcer: HTMLElement;
    private readonly handsSection: HTMLElement;
    private readonly handList: HTMLOListElement;
    private readonly handsEmpty: HTMLElement;
    private readonly hostSection: HTMLElement;
    private readonly chat: HTMLElement;
    private readonly chatLog: HTMLElement;
    private readonly chatForm: HTMLFormElement;
    private readonly chatInput: HTMLInputElement;
    private readonly hand: HTMLButtonElement;
    private readonly recordingBadge: HTMLElement;
    private readonly recordButton: HTMLButtonElement;
    private readonly reactions: HTMLElement;
    private readonly layoutToggle: HTMLButtonElement;
    private readonly chatToggle: HTMLButtonElement;
    private readonly actions: ViewActions;
    private connected = false;
    private noticeTimer: number | undefined;
    private speakers: string[] = [];
    private tileDetails = new Map<string, EngineParticipant>();
    /** The person whose host menu is open (kept across re-renders of the roster). */
    private openMenu = '';

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
        this.tiles = get('mb-tiles');
        this.audio = get('mb-audio');
        this.reactionStream = get('mb-reaction-stream');
        this.announcer = get('mb-announce');
        this.handsSection = get('mb-hands');
        this.handList = get('mb-hand-list');
        this.handsEmpty = get('mb-hands-empty');
        this.hostSection = get('mb-host');
        this.recordingBadge = get('mb-recording');
        this.recordButton = get('mb-record');
        this.chat = get('mb-chat');
        this.chatLog = get('mb-chat-log');
        this.chatForm = get('mb-chat-form');
        this.chatInput = get('mb-chat-input');
        this.hand = get('mb-hand');
        this.reactions = get('mb-reactions');
        this.layoutToggle = get('mb-layout');
        this.chatToggle = get('mb-chat-toggle');
        this.actions = actions;
        this.bindMeetbridgeControls(doc, actions);

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
            if (event.key === 'Escape' && this.openMenu) {
                const person = this.openMenu;
                this.openMenu = '';
                this.setMenuOpen(person, false);
                this.menuButton(person)?.focus();
                return;
            }
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
        this.share.dataset['active'] = String(layout.presentation === 'sending');
        setLabel(this.share, layout.presentation === 'sending' ? 'Stop sharing' : 'Share screen');
    }

    setMicrophoneMuted(muted: boolean, available: boolean): void {
        this.mic.dataset['active'] = String(muted);
        setLabel(this.mic, muted ? 'Unmute' : 'Mute');
        this.mic.dataset['available'] = String(available);
    }

    setCameraOff(off: boolean, available: boolean): void {
        this.cameraToggle.dataset['active'] = String(off);
        setLabel(this.cameraToggle, off ? 'Start camera' : 'Stop camera');
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

    /**
     * The roster, one entry per person. `canModerate`: we are a host, so each other person gets
     * a menu of host actions (meetbridge enforces the permission; the menu is a convenience).
     */
    renderParticipants(people: Person[], canModerate = false): void {
        this.participantCount.textContent = String(people.length);
        // The roster is re-rendered on every change (speaking, quality…): keep keyboard focus.
        const focused = this.doc.activeElement;
        const inRoster = focused instanceof HTMLElement && this.participantList.contains(focused);
        const focusPerson = inRoster ? focused.closest<HTMLElement>('li')?.dataset['person'] : undefined;
        const focusAction = inRoster ? (focused.dataset['action'] ?? '') : '';
        this.participantList.replaceChildren(...people.map(person => this.personItem(person, canModerate)));
        if (focusPerson !== undefined) {
            const item = [...this.participantList.children].find(
                element => (element as HTMLElement).dataset['person'] === focusPerson,
            );
            const target = focusAction
                ? item?.querySelector<HTMLElement>(`button[data-action="${focusAction}"]`)
                : item?.querySelector<HTMLElement>('button.mb-menu-button');
            target?.focus();
        }
        if (this.openMenu && !people.some(p => p.key === this.openMenu && !p.isMe && canModerate)) {
            this.openMenu = '';
        }
    }

    private personItem(person: Person, canModerate: boolean): HTMLLIElement {
        const item = this.doc.createElement('li');
        item.dataset['person'] = person.key;
        item.dataset['speaking'] = String(person.isSpeaking);
        const name = this.doc.createElement('span');
        name.className = 'mb-name';
        name.textContent = person.isMe ? `${person.displayName} (you)` : person.displayName;
        const detail = this.doc.createElement('span');
        detail.className = 'mb-tags';
        detail.textContent = personTags(person).join(', ');
        item.append(name, ' ', detail);
        if (canModerate && !person.isMe) {
            item.append(this.hostMenu(person));
        }
        return item;
    }

    private hostMenu(person: Person): HTMLElement {
        const wrapper = this.doc.createElement('div');
        wrapper.className = 'mb-person-actions';
        const open = this.openMenu === person.key;
        const menuId = `mb-actions-${person.key.replace(/[^A-Za-z0-9_-]/g, '_')}`;
        const toggle = this.doc.createElement('button');
        toggle.type = 'button';
        toggle.className = 'mb-menu-button';
        toggle.dataset['menuFor'] = person.key;
        toggle.textContent = `Actions for ${person.displayName}`;
        toggle.setAttribute('aria-expanded', String(open));
        toggle.setAttribute('aria-controls', menuId);
        toggle.addEventListener('click', () => {
            const opening = this.openMenu !== person.key;
            if (this.openMenu) {
                this.setMenuOpen(this.openMenu, false);
            }
            this.openMenu = opening ? person.key : '';
            this.setMenuOpen(person.key, opening);
            if (opening) {
                this.doc.getElementById(menuId)?.querySelector('button')?.focus();
            }
        });
        const menu = this.doc.createElement('div');
        menu.id = menuId;
        menu.className = 'mb-person-menu';
        menu.hidden = !open;
        menu.setAttribute('role', 'group');
        menu.setAttribute('aria-label', `Host actions for ${person.displayName}`);
        for (const [action, label] of PERSON_ACTIONS) {
            if (action === 'lower-hand' && !person.hand) {
                continue;
            }
            if (action === 'stop-screenshare' && !person.isPresenting) {
                continue;
            }
            if (action === 'make-host' && person.isHost) {
                continue;
            }
            const button = this.doc.createElement('button');
            button.type = 'button';
            button.textContent = label;
            button.dataset['action'] = action;
            button.addEventListener('click', () => {
                this.openMenu = '';
                this.actions.hostAction(action, person.ids);
            });
            menu.append(button);
        }
        wrapper.append(toggle, menu);
        return wrapper;
    }

    private menuButton(personKey: string): HTMLButtonElement | null {
        return [...this.participantList.querySelectorAll<HTMLButtonElement>('button.mb-menu-button')].find(
            button => button.dataset['menuFor'] === personKey,
        ) ?? null;
    }

    private setMenuOpen(personKey: string, open: boolean): void {
        const button = this.menuButton(personKey);
        if (!button) {
            return;
        }
        button.setAttribute('aria-expanded', String(open));
        const menu = this.doc.getElementById(button.getAttribute('aria-controls') ?? '');
        if (menu) {
            menu.hidden = !open;
        }
    }

    // -----------------------------------------------------------------------------------------
    // What only engines with meetbridge controls (LiveKit) show

    private bindMeetbridgeControls(doc: Document, actions: ViewActions): void {
        for (const emoji of REACTIONS) {
            const button = doc.createElement('button');
            button.type = 'button';
            button.className = 'mb-reaction';
            button.textContent = emoji;
            button.setAttribute('aria-label', `React: ${REACTION_NAMES[emoji] ?? emoji}`);
            button.addEventListener('click', () => actions.react(emoji));
            this.reactions.append(button);
        }
        this.hand.addEventListener('click', () => actions.toggleHand());
        this.layoutToggle.addEventListener('click', () => {
            const speaker = this.tiles.dataset['layout'] !== 'speaker';
            this.tiles.dataset['layout'] = speaker ? 'speaker' : 'grid';
            setPressed(this.layoutToggle, speaker);
            this.renderFeatured();
        });
        this.chatToggle.addEventListener('click', () => {
            this.togglePanel(this.chatToggle, this.chat);
            if (!this.chat.hidden) {
                this.chatInput.focus();
            }
        });
        this.chatForm.addEventListener('submit', event => {
            event.preventDefault();
            const text = this.chatInput.value.trim();
            if (text) {
                actions.sendChat(text);
                this.chatInput.value = '';
            }
        });
        doc.getElementById('mb-mute-all')?.addEventListener('click', () => actions.meetingAction('mute-all'));
        doc.getElementById('mb-lower-all')?.addEventListener('click', () => actions.meetingAction('lower-all-hands'));
        doc.getElementById('mb-end')?.addEventListener('click', () => actions.meetingAction('end'));
        this.recordButton.addEventListener('click', () => actions.toggleRecording());
    }

    /** Shows hands, reactions, chat and (for tiles) the layout toggle. */
    enableMeetbridgeControls(tiles: boolean, reactions = true, chat = true): void {
        this.hand.hidden = false;
        this.reactions.hidden = !reactions;
        this.chatToggle.hidden = !chat;
        this.handsSection.hidden = false;
        this.layoutToggle.hidden = !tiles;
        this.tiles.hidden = !tiles;
        if (tiles) {
            this.remoteVideo.hidden = true;
        }
    }

    setHost(isHost: boolean): void {
        this.hostSection.hidden = !isHost;
    }

    /** The "Recording" badge everyone sees, and the host's button named after what it does. */
    setRecording(recording: boolean): void {
        this.recordingBadge.hidden = !recording;
        this.recordButton.textContent = recording ? 'Stop recording' : 'Start recording';
    }

    /** Raise/lower, named after what pressing it does. */
    setHandRaised(raised: boolean): void {
        setLabel(this.hand, raised ? 'Lower hand' : 'Raise hand');
        this.hand.dataset['active'] = String(raised);
    }

    renderHands(queue: HandEntry[], myIds: ReadonlySet<string>): void {
        this.handsEmpty.hidden = queue.length > 0;
        this.handList.replaceChildren(
            ...queue.map(entry => {
                const item = this.doc.createElement('li');
                item.dataset['identity'] = entry.identity;
                item.textContent = myIds.has(entry.identity) ? `${entry.name} (you)` : entry.name;
                return item;
            }),
        );
    }

    renderTiles(tiles: VideoTile[]): void {
        const existing = new Map(
            [...this.tiles.querySelectorAll<HTMLElement>('.mb-tile')].map(tile => [tile.dataset['participant'] ?? '', tile]),
        );
        const ordered = tiles.map(tile => {
            const element = existing.get(tile.participantId) ?? this.newTile(tile.participantId);
            existing.delete(tile.participantId);
            const video = element.querySelector('video');
            element.dataset['name'] = tile.displayName;
            this.describeTile(element);
            if (video && video.srcObject !== tile.stream) {
                video.srcObject = tile.stream;
                if (tile.stream) {
                    void video.play().catch(() => undefined);
                }
            }
            video?.setAttribute('aria-label', `Video of ${tile.displayName}`);
            element.dataset['video'] = String(tile.stream !== null);
            return element;
        });
        for (const gone of existing.values()) {
            gone.remove();
        }
        this.tiles.replaceChildren(...ordered);
        this.peopleEmpty.hidden = tiles.length > 0;
        this.peopleEmpty.textContent = tiles.length ? '' : 'Nobody else is here yet';
        this.renderSpeakers();
    }

    /** Muted microphone and a poor connection show on the tile too, in words. */
    describeTiles(connections: EngineParticipant[]): void {
        this.tileDetails = new Map(connections.map(c => [c.id, c]));
        for (const tile of this.tiles.querySelectorAll<HTMLElement>('.mb-tile')) {
            this.describeTile(tile);
        }
    }

    private describeTile(tile: HTMLElement): void {
        const detail = this.tileDetails.get(tile.dataset['participant'] ?? '');
        const notes = [
            detail?.isMuted ? 'muted' : '',
            detail && (detail.quality === 'poor' || detail.quality === 'lost') ? `${detail.quality} connection` : '',
        ].filter(Boolean);
        tile.dataset['quality'] = detail?.quality ?? 'unknown';
        const caption = tile.querySelector('figcaption');
        if (caption) {
            const name = tile.dataset['name'] ?? detail?.displayName ?? '';
            caption.textContent = notes.length ? `${name} (${notes.join(', ')})` : name;
        }
    }

    private newTile(participantId: string): HTMLElement {
        const figure = this.doc.createElement('figure');
        figure.className = 'mb-tile';
        figure.dataset['participant'] = participantId;
        const video = this.doc.createElement('video');
        video.autoplay = true;
        video.playsInline = true;
        video.muted = true; // sound comes from the audio elements
        const caption = this.doc.createElement('figcaption');
        figure.append(video, caption);
        return figure;
    }

    setActiveSpeakers(ids: string[]): void {
        this.speakers = ids;
        this.renderSpeakers();
    }

    private renderSpeakers(): void {
        for (const tile of this.tiles.querySelectorAll<HTMLElement>('.mb-tile')) {
            tile.dataset['speaking'] = String(this.speakers.includes(tile.dataset['participant'] ?? ''));
        }
        this.renderFeatured();
    }

    /** In speaker layout, the loudest remote speaker (or the first tile) fills the stage. */
    private renderFeatured(): void {
        const tiles = [...this.tiles.querySelectorAll<HTMLElement>('.mb-tile')];
        const speaking = tiles.find(tile => this.speakers.includes(tile.dataset['participant'] ?? ''));
        const current = tiles.find(tile => tile.dataset['featured'] === 'true');
        const featured = speaking ?? current ?? tiles[0];
        for (const tile of tiles) {
            tile.dataset['featured'] = String(tile === featured);
        }
    }

    playAudio(streams: MediaStream[]): void {
        const keep = new Set(streams);
        for (const element of [...this.audio.querySelectorAll('audio')]) {
            if (!keep.has(element.srcObject as MediaStream)) {
                element.remove();
            }
        }
        const playing = new Set([...this.audio.querySelectorAll('audio')].map(a => a.srcObject));
        for (const stream of streams) {
            if (playing.has(stream)) {
                continue;
            }
            const element = this.doc.createElement('audio');
            element.autoplay = true;
            element.srcObject = stream;
            this.audio.append(element);
            element.play().catch((error: unknown) => {
                if (error instanceof Error && error.name === 'NotAllowedError') {
                    this.enableSound.hidden = false;
                }
            });
        }
    }

    /** A reaction floats over the video for a few seconds and is announced once. */
    showReaction(name: string, emoji: string): void {
        const item = this.doc.createElement('li');
        item.textContent = `${emoji} ${name}`;
        this.reactionStream.append(item);
        while (this.reactionStream.children.length > MAX_REACTIONS_SHOWN) {
            this.reactionStream.firstElementChild?.remove();
        }
        window.setTimeout(() => item.remove(), REACTION_SHOWN_MS);
        this.announce(`${name} reacted ${REACTION_NAMES[emoji] ?? emoji}`);
    }

    renderChat(lines: ChatLine[]): void {
        const shown = new Set([...this.chatLog.children].map(item => (item as HTMLElement).dataset['id']));
        const wanted = new Set(lines.map(line => line.id));
        for (const item of [...this.chatLog.children] as HTMLElement[]) {
            if (!wanted.has(item.dataset['id'] ?? '')) {
                item.remove();
            }
        }
        for (const line of lines) {
            if (shown.has(line.id)) {
                continue;
            }
            const item = this.doc.createElement('p');
            item.className = 'mb-chat-line';
            item.dataset['id'] = line.id;
            item.dataset['source'] = line.source;
            const who = this.doc.createElement('strong');
            who.textContent = line.name;
            const when = this.doc.createElement('time');
            const date = new Date(line.at);
            when.dateTime = date.toISOString();
            when.textContent = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
            const text = this.doc.createElement('span');
            text.className = 'mb-chat-text';
            text.textContent = line.text;
            item.append(who, ' ', when, ' ', text);
            if (line.source === 'mattermost') {
                item.append(' (from Mattermost)');
            }
            this.chatLog.append(item);
        }
        this.chatLog.scrollTop = this.chatLog.scrollHeight;
    }

    /** Says something to screen-reader users (joins, hands, reactions) without moving focus. */
    announce(text: string): void {
        const line = this.doc.createElement('p');
        line.textContent = text;
        this.announcer.append(line);
        while (this.announcer.children.length > 5) {
            this.announcer.firstElementChild?.remove();
        }
    }

    /** After being removed, re-joining with the same link is not offered. */
    setRetryAllowed(allowed: boolean): void {
        this.retry.hidden = !allowed;
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
        return [this.remoteVideo, this.presentationVideo, ...this.audio.querySelectorAll('audio')];
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
