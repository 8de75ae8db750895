/**
 * The page's summary of its own connection, for `/meet stats` (the control API's `stats`
 * action): bitrate out and in over the last interval, inbound packet loss over that interval,
 * and the round-trip time of the selected candidate pair. Pure: it reads WebRTC stats objects
 * (as `RTCStatsReport`s hold them) and never calls the browser, so that it is unit-tested here.
 */

/** One WebRTC stats object, as read from an `RTCStatsReport` (untrusted shape). */
export type StatsObject = Readonly<Record<string, unknown>>;

/** Cumulative counters at one moment, per RTP stream (stats id), plus the RTT seen then. */
export interface StatsSample {
    at: number; // ms
    bytesSent: ReadonlyMap<string, number>;
    bytesReceived: ReadonlyMap<string, number>;
    packetsReceived: ReadonlyMap<string, number>;
    packetsLost: ReadonlyMap<string, number>;
    /** The selected candidate pairs' mean round-trip time, or null when no pair says. */
    rttMs: number | null;
}

/** What the page sends to meetbridge (web/CONTRACT.md, `stats`). */
export interface StatsSummary {
    sendKbps: number;
    receiveKbps: number;
    packetLossPercent: number;
    rttMs: number;
}

const count = (value: unknown): number | null =>
    typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;

const put = (into: Map<string, number>, id: string, value: unknown): void => {
    const n = count(value);
    if (n !== null) {
        into.set(id, n);
    }
};

/** The candidate pairs in use: those a transport selected, else the nominated succeeded ones. */
const selectedPairs = (objects: ReadonlyMap<string, StatsObject>): StatsObject[] => {
    const selected = new Set<string>();
    for (const object of objects.values()) {
        if (object['type'] === 'transport' && typeof object['selectedCandidatePairId'] === 'string') {
            selected.add(object['selectedCandidatePairId']);
        }
    }
    const pairs = [...objects.values()].filter(object => object['type'] === 'candidate-pair');
    if (selected.size) {
        return pairs.filter(pair => typeof pair['id'] === 'string' && selected.has(pair['id']));
    }
    return pairs.filter(pair => pair['nominated'] === true && pair['state'] === 'succeeded');
};

const meanRttMs = (pairs: StatsObject[]): number | null => {
    const rtts = pairs.map(pair => count(pair['currentRoundTripTime'])).filter((rtt): rtt is number => rtt !== null);
    return rtts.length ? (rtts.reduce((sum, rtt) => sum + rtt, 0) / rtts.length) * 1000 : null;
};

/**
 * One sample from several reports (one per track, or per peer connection). An object found in
 * several reports (a shared transport, say) counts once: reports are merged by stats id.
 */
export const sampleOf = (reports: Iterable<Iterable<StatsObject>>, at: number): StatsSample => {
    const objects = new Map<string, StatsObject>();
    for (const report of reports) {
        for (const object of report) {
            if (typeof object['id'] === 'string' && typeof object['type'] === 'string') {
                objects.set(object['id'], object);
            }
        }
    }
    const bytesSent = new Map<string, number>();
    const bytesReceived = new Map<string, number>();
    const packetsReceived = new Map<string, number>();
    const packetsLost = new Map<string, number>();
    for (const [id, object] of objects) {
        if (object['type'] === 'outbound-rtp') {
            put(bytesSent, id, object['bytesSent']);
        } else if (object['type'] === 'inbound-rtp') {
            put(bytesReceived, id, object['bytesReceived']);
            put(packetsReceived, id, object['packetsReceived']);
            // Negative when duplicates outnumber losses: no loss, for this summary.
            const lost = object['packetsLost'];
            put(packetsLost, id, typeof lost === 'number' ? Math.max(lost, 0) : lost);
        }
    }
    return { at, bytesSent, bytesReceived, packetsReceived, packetsLost, rttMs: meanRttMs(selectedPairs(objects)) };
};

/**
 * How much each counter grew since `before`, summed over streams. A stream new since then
 * started within the interval (all of it counts); a counter lower than before was reset (a
 * renegotiated stream under the same id): what it counted since the reset is its value now.
 */
const growth = (before: ReadonlyMap<string, number>, now: ReadonlyMap<string, number>): number => {
    let total = 0;
    for (const [id, value] of now) {
        const previous = before.get(id);
        total += previous === undefined || value < previous ? value : value - previous;
    }
    return total;
};

const round = (value: number, digits: number): number => {
    const scale = 10 ** digits;
    return Math.round(value * scale) / scale;
};

/**
 * The summary of the interval from `before` to `now`, or null when there is none to give: no
 * interval yet (the first sample), time did not move, or no candidate pair has an RTT yet.
 */
export const summarize = (before: StatsSample | null, now: StatsSample): StatsSummary | null => {
    if (!before || now.at <= before.at || now.rttMs === null) {
        return null;
    }
    const elapsedMs = now.at - before.at;
    const kbps = (bytes: number): number => round((bytes * 8) / elapsedMs, 1); // bits per ms = kbit/s
    const received = growth(before.packetsReceived, now.packetsReceived);
    const lost = growth(before.packetsLost, now.packetsLost);
    const loss = received + lost > 0 ? (100 * lost) / (received + lost) : 0;
    return {
        sendKbps: kbps(growth(before.bytesSent, now.bytesSent)),
        receiveKbps: kbps(growth(before.bytesReceived, now.bytesReceived)),
        packetLossPercent: round(Math.min(loss, 100), 2),
        rttMs: round(now.rttMs, 1),
    };
};

/** How often a page in a meeting reports (meetbridge keeps the last report). */
export const STATS_INTERVAL_MS = 10_000;

/**
 * Samples the connection every interval while joined and sends each interval's summary; on
 * leaving, sends the summary since the last sample once more. The I/O is injected.
 */
export class StatsReporter {
    private last: StatsSample | null = null;
    private timer: ReturnType<typeof setInterval> | undefined;
    private sampling: Promise<void> = Promise.resolve();

    constructor(
        private readonly collect: () => Promise<Iterable<Iterable<StatsObject>>>,
        private readonly send: (summary: StatsSummary, final: boolean) => Promise<void>,
        private readonly now: () => number = () => Date.now(),
        private readonly intervalMs: number = STATS_INTERVAL_MS,
    ) {}

    /** Joined: the first sample is the baseline; each later one is reported. */
    start(): void {
        this.stop();
        this.last = null;
        this.sampling = this.sample(false);
        this.timer = setInterval(() => {
            this.sampling = this.sampling.then(() => this.sample(false));
        }, this.intervalMs);
    }

    stop(): void {
        if (this.timer !== undefined) {
            clearInterval(this.timer);
            this.timer = undefined;
        }
    }

    /**
     * Leaving: the last partial interval, measured while the connection still exists and sent
     * before the caller disconnects (meetbridge takes reports from devices in the meeting).
     */
    async finish(): Promise<void> {
        if (this.timer === undefined) {
            return;
        }
        this.stop();
        await this.sampling;
        await this.sample(true);
        this.last = null;
    }

    private async sample(final: boolean): Promise<void> {
        let reports: Iterable<Iterable<StatsObject>>;
        try {
            reports = await this.collect();
        } catch {
            return; // the connection is going away: nothing to measure
        }
        const sample = sampleOf(reports, this.now());
        const summary = summarize(this.last, sample);
        this.last = sample;
        if (summary && final) {
            await this.send(summary, true).catch(() => undefined);
        } else if (summary) {
            void this.send(summary, false).catch(() => undefined);
        }
    }
}
