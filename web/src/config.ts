/**
 * The meeting page's configuration: a JSON block the server renders into the page
 * (`<script type="application/json" id="meetbridge-config">`). Everything needed to join comes
 * from there — the user types nothing.
 */

export interface MeetingConfig {
    /** Base URL of the Conferencing Node, e.g. "https://pexip.example.com". */
    host: string;
    /** Host (and optional port) of the node, as the admin configured it. */
    node: string;
    alias: string;
    displayName: string;
    pin: string;
    callTag: string;
    startMuted: boolean;
    channelTitle: string;
    /** A direct or group message (rather than a channel). */
    conversation: boolean;
    /** Ask for direct (end-to-end encrypted) media: a DM with "Direct media for DMs" on. */
    directMedia: boolean;
    /** The same meeting in Pexip's web app, offered when this page cannot work. */
    webapp3Url: string;
    /** The role meetbridge's PIN gives (the live role comes from Infinity's participant events). */
    role: 'host' | 'participant';
    /** meetbridge's control API for host actions and hands; absent: Infinity's controls only. */
    controls?: { url: string; token: string };
}

export class ConfigError extends Error {
    override name = 'ConfigError';
}

export const CONFIG_ELEMENT_ID = 'meetbridge-config';

type Raw = Record<string, unknown>;

const isRecord = (value: unknown): value is Raw =>
    typeof value === 'object' && value !== null && !Array.isArray(value);

const text = (raw: Raw, key: string, required: boolean): string => {
    const value = raw[key];
    if (value === undefined || value === null) {
        if (required) {
            throw new ConfigError(`The meeting settings have no "${key}".`);
        }
        return '';
    }
    if (typeof value !== 'string') {
        throw new ConfigError(`The meeting setting "${key}" must be text.`);
    }
    const trimmed = value.trim();
    if (required && !trimmed) {
        throw new ConfigError(`The meeting setting "${key}" is empty.`);
    }
    return trimmed;
};

const flag = (raw: Raw, key: string, fallback: boolean): boolean => {
    const value = raw[key];
    if (value === undefined || value === null) {
        return fallback;
    }
    if (typeof value !== 'boolean') {
        throw new ConfigError(`The meeting setting "${key}" must be true or false.`);
    }
    return value;
};

/**
 * The node's base URL: `host` when given (must be https, or http for a loopback test node),
 * otherwise `https://<node>`. Returned without a trailing slash.
 */
export const nodeBaseUrl = (host: string, node: string): string => {
    const candidate = host || (node ? `https://${node}` : '');
    if (!candidate) {
        throw new ConfigError('The meeting settings name no Pexip Conferencing Node.');
    }
    let url: URL;
    try {
        url = new URL(candidate);
    } catch {
        throw new ConfigError(`"${candidate}" is not a valid Conferencing Node address.`);
    }
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
        throw new ConfigError('The Conferencing Node must be reached over https.');
    }
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
};

/** Validates and normalises the raw JSON object; throws ConfigError with a readable message. */
export const parseConfig = (raw: unknown): MeetingConfig => {
    if (!isRecord(raw)) {
        throw new ConfigError('The meeting settings are missing or malformed.');
    }
    const node = text(raw, 'node', false);
    const conversation = flag(raw, 'conversation', false);
    return {
        host: nodeBaseUrl(text(raw, 'host', false), node),
        node: node || new URL(nodeBaseUrl(text(raw, 'host', false), node)).host,
        alias: text(raw, 'alias', true),
        displayName: text(raw, 'displayName', true),
        pin: text(raw, 'pin', false),
        callTag: text(raw, 'callTag', false),
        // Muted in channels, unmuted in direct and group messages, unless the server says.
        startMuted: flag(raw, 'startMuted', !conversation),
        channelTitle: text(raw, 'channelTitle', false),
        conversation,
        directMedia: flag(raw, 'directMedia', false),
        webapp3Url: text(raw, 'webapp3Url', false),
        role: parseRole(raw),
        ...(isRecord(raw['controls']) ? { controls: parseControls(endpoint(raw, 'controls')) } : {}),
    };
};

// ---------------------------------------------------------------------------------------------
// The engine-neutral page config: `engine` picks the adapter ("pexip" when absent).

export interface LiveKitConfig {
    engine: 'livekit';
    /** The SFU's WebSocket URL (wss://, or ws:// on loopback) and this participant's token. */
    livekit: { url: string; token: string };
    role: 'host' | 'participant';
    /** Our LiveKit identity (one per device). */
    identity: string;
    displayName: string;
    startMuted: boolean;
    channelTitle: string;
    conversation: boolean;
    /** meetbridge's control API (hands, reactions, chat, host actions). */
    controls: { url: string; token: string };
}

export type PageConfig = ({ engine: 'pexip' } & MeetingConfig) | LiveKitConfig;

const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];

/** An absolute URL with a secure scheme (or its plain twin on loopback, for tests and `make run`). */
const secureUrl = (value: string, what: string, secure: string, plain: string): string => {
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        throw new ConfigError(`"${value}" is not a valid ${what} address.`);
    }
    if (url.protocol !== secure && !(url.protocol === plain && LOOPBACK.includes(url.hostname))) {
        throw new ConfigError(`The ${what} must be reached over ${secure.replace(':', '')}.`);
    }
    return url.href.replace(/\/+$/, '');
};

const endpoint = (raw: Raw, key: string): Raw => {
    const value = raw[key];
    if (!isRecord(value)) {
        throw new ConfigError(`The meeting settings have no "${key}".`);
    }
    return value;
};

const parseRole = (raw: Raw): 'host' | 'participant' => {
    const role = text(raw, 'role', false) || 'participant';
    if (role !== 'host' && role !== 'participant') {
        throw new ConfigError('The meeting setting "role" must be "host" or "participant".');
    }
    return role;
};

const parseControls = (controls: Raw): { url: string; token: string } => {
    const controlsUrl = text(controls, 'url', true);
    return {
        // A path on meetbridge's own origin, or an absolute https URL.
        url: controlsUrl.startsWith('/') ? controlsUrl : secureUrl(controlsUrl, 'meetbridge control', 'https:', 'http:'),
        token: text(controls, 'token', true),
    };
};

const parseLiveKit = (raw: Raw): LiveKitConfig => {
    const livekit = endpoint(raw, 'livekit');
    const role = parseRole(raw);
    const conversation = flag(raw, 'conversation', false);
    return {
        engine: 'livekit',
        livekit: {
            url: secureUrl(text(livekit, 'url', true), 'LiveKit server', 'wss:', 'ws:'),
            token: text(livekit, 'token', true),
        },
        role,
        identity: text(raw, 'identity', true),
        displayName: text(raw, 'displayName', true),
        startMuted: flag(raw, 'startMuted', !conversation),
        channelTitle: text(raw, 'channelTitle', false),
        conversation,
        controls: parseControls(endpoint(raw, 'controls')),
    };
};

/** Validates the page config for whichever engine it names. */
export const parsePageConfig = (raw: unknown): PageConfig => {
    if (!isRecord(raw)) {
        throw new ConfigError('The meeting settings are missing or malformed.');
    }
    const engine = text(raw, 'engine', false) || 'pexip';
    if (engine === 'livekit') {
        return parseLiveKit(raw);
    }
    if (engine !== 'pexip') {
        throw new ConfigError(`This page cannot join meetings on "${engine}".`);
    }
    return { engine: 'pexip', ...parseConfig(raw) };
};

/** Reads the JSON block from the page, whatever the engine. */
export const readPageConfig = (doc: Document): PageConfig => parsePageConfig(readRaw(doc));

/** Reads the JSON block from the page (Pexip). */
export const readConfig = (doc: Document): MeetingConfig => parseConfig(readRaw(doc));

const readRaw = (doc: Document): unknown => {
    const element = doc.getElementById(CONFIG_ELEMENT_ID);
    if (!element?.textContent) {
        throw new ConfigError('The meeting settings are missing from this page.');
    }
    let raw: unknown;
    try {
        raw = JSON.parse(element.textContent);
    } catch {
        throw new ConfigError('The meeting settings on this page are not valid JSON.');
    }
    return raw;
};
