import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
    sampleOf,
    StatsReporter,
    summarize,
    type StatsObject,
    type StatsSummary,
} from '../src/connection-stats';

const outbound = (id: string, bytesSent: number): StatsObject => ({ id, type: 'outbound-rtp', bytesSent });
const inbound = (id: string, bytesReceived: number, packetsReceived = 0, packetsLost = 0): StatsObject => ({
    id,
    type: 'inbound-rtp',
    bytesReceived,
    packetsReceived,
    packetsLost,
});
const transport = (id: string, pair: string): StatsObject => ({ id, type: 'transport', selectedCandidatePairId: pair });
const pair = (id: string, rttSeconds: number, extra: Record<string, unknown> = {}): StatsObject => ({
    id,
    type: 'candidate-pair',
    currentRoundTripTime: rttSeconds,
    ...extra,
});

const connected = [transport('T1', 'CP1'), pair('CP1', 0.04), pair('CP2', 0.9)];

describe('summarize', () => {
    it('gives bitrates, loss and RTT over the interval between two samples', () => {
        const before = sampleOf([[outbound('o1', 1000), inbound('i1', 5000, 100, 0), ...connected]], 10_000);
        const now = sampleOf([[outbound('o1', 126_000), inbound('i1', 255_000, 290, 10), ...connected]], 20_000);
        expect(summarize(before, now)).toEqual({
            sendKbps: 100, // 125,000 bytes in 10 s
            receiveKbps: 200,
            packetLossPercent: 5, // 10 lost of 200 expected
            rttMs: 40, // the transport's selected pair, not the other one
        });
    });

    it('sums every stream, counting an object present in several reports once', () => {
        const shared = transport('T1', 'CP1');
        const before = sampleOf([[outbound('audio', 0), shared, pair('CP1', 0.02)], [outbound('video', 0), shared]], 0);
        const now = sampleOf(
            [
                [outbound('audio', 5000), shared, pair('CP1', 0.02)],
                [outbound('video', 20_000), shared, pair('CP1', 0.02)],
            ],
            1000,
        );
        expect(summarize(before, now)?.sendKbps).toBe(200);
    });

    it('counts a stream that appeared during the interval in full', () => {
        const before = sampleOf([[inbound('i1', 1000), ...connected]], 0);
        const now = sampleOf([[inbound('i1', 2000), inbound('i2', 3000), ...connected]], 1000);
        expect(summarize(before, now)?.receiveKbps).toBe(32); // 1000 + 3000 bytes
    });

    it('takes a counter lower than before as reset, counting what it counted since', () => {
        const before = sampleOf([[outbound('o1', 90_000), inbound('i1', 50_000, 500, 20), ...connected]], 0);
        const now = sampleOf([[outbound('o1', 1000), inbound('i1', 2000, 40, 0), ...connected]], 1000);
        expect(summarize(before, now)).toEqual({ sendKbps: 8, receiveKbps: 16, packetLossPercent: 0, rttMs: 40 });
    });

    it('ignores missing, negative and non-numeric fields', () => {
        const before = sampleOf([[inbound('i1', 1000, 10, 0), ...connected]], 0);
        const now = sampleOf(
            [
                [
                    { id: 'i1', type: 'inbound-rtp', bytesReceived: 2000, packetsReceived: 20, packetsLost: -3 },
                    { id: 'o1', type: 'outbound-rtp' },
                    { id: 'o2', type: 'outbound-rtp', bytesSent: 'lots' },
                    { id: 'o3', type: 'outbound-rtp', bytesSent: Number.NaN },
                    { type: 'outbound-rtp', bytesSent: 9999 }, // no id
                    ...connected,
                ],
            ],
            1000,
        );
        expect(summarize(before, now)).toEqual({ sendKbps: 0, receiveKbps: 8, packetLossPercent: 0, rttMs: 40 });
    });

    it('falls back on the nominated succeeded pairs when no transport names one', () => {
        const pairs = [
            pair('CP1', 0.03, { nominated: true, state: 'succeeded' }),
            pair('CP2', 0.05, { nominated: true, state: 'succeeded' }),
            pair('CP3', 2, { nominated: false, state: 'succeeded' }),
            pair('CP4', 2, { nominated: true, state: 'failed' }),
        ];
        const summary = summarize(sampleOf([pairs], 0), sampleOf([pairs], 1000));
        expect(summary?.rttMs).toBe(40); // the mean of the publisher's and subscriber's pairs
    });

    it('has nothing to say without an interval or without an RTT', () => {
        const now = sampleOf([[outbound('o1', 1000), ...connected]], 1000);
        expect(summarize(null, now)).toBeNull();
        expect(summarize(now, now)).toBeNull(); // no time passed
        const noPair = sampleOf([[outbound('o1', 1000), transport('T1', 'gone')]], 2000);
        expect(summarize(now, noPair)).toBeNull();
    });

    it('reports no loss when nothing was received', () => {
        const before = sampleOf([[...connected]], 0);
        const now = sampleOf([[inbound('i1', 0, 0, 0), ...connected]], 1000);
        expect(summarize(before, now)?.packetLossPercent).toBe(0);
    });

    it('caps loss at 100 %', () => {
        const before = sampleOf([[inbound('i1', 0, 0, 0), ...connected]], 0);
        const now = sampleOf([[inbound('i1', 0, 0, 50), ...connected]], 1000);
        expect(summarize(before, now)?.packetLossPercent).toBe(100);
    });
});

describe('StatsReporter', () => {
    beforeEach(() => {
        vi.useFakeTimers();
    });
    afterEach(() => {
        vi.useRealTimers();
    });

    const reporterWith = (bytes: () => number) => {
        const sent: { summary: StatsSummary; final: boolean }[] = [];
        let clock = 0;
        const reporter = new StatsReporter(
            async () => [[outbound('o1', bytes()), ...connected]],
            async (summary, final) => {
                sent.push({ summary, final });
            },
            () => clock,
            10_000,
        );
        return { reporter, sent, advance: (ms: number) => (clock += ms) };
    };

    it('reports each interval while joined, then the last part once on leaving', async () => {
        let bytes = 0;
        const { reporter, sent, advance } = reporterWith(() => bytes);
        reporter.start();
        await vi.advanceTimersByTimeAsync(0); // the baseline: nothing to report yet
        expect(sent).toEqual([]);

        bytes = 12_500;
        advance(10_000);
        await vi.advanceTimersByTimeAsync(10_000);
        expect(sent).toHaveLength(1);
        expect(sent[0]).toMatchObject({ summary: { sendKbps: 10 }, final: false });

        bytes = 17_500;
        advance(2_000);
        await reporter.finish();
        expect(sent).toHaveLength(2);
        expect(sent[1]).toMatchObject({ summary: { sendKbps: 20 }, final: true });

        await vi.advanceTimersByTimeAsync(60_000); // stopped
        expect(sent).toHaveLength(2);
        await reporter.finish(); // a second leave sends nothing more
        expect(sent).toHaveLength(2);
    });

    it('stops without a final report when the meeting ended under it', async () => {
        const { reporter, sent, advance } = reporterWith(() => 0);
        reporter.start();
        await vi.advanceTimersByTimeAsync(0);
        reporter.stop();
        advance(5000);
        await reporter.finish();
        await vi.advanceTimersByTimeAsync(30_000);
        expect(sent).toEqual([]);
    });

    it('survives a failing measurement', async () => {
        let fail = false;
        const sent: StatsSummary[] = [];
        let clock = 0;
        const reporter = new StatsReporter(
            async () => {
                if (fail) {
                    throw new Error('closed');
                }
                return [[outbound('o1', clock), ...connected]];
            },
            async summary => {
                sent.push(summary);
            },
            () => clock,
            1000,
        );
        reporter.start();
        await vi.advanceTimersByTimeAsync(0);
        fail = true;
        clock = 1000;
        await vi.advanceTimersByTimeAsync(1000);
        fail = false;
        clock = 2000;
        await vi.advanceTimersByTimeAsync(1000);
        expect(sent).toHaveLength(1); // from the baseline to now: the failed sample was skipped
        expect(sent[0]?.sendKbps).toBe(8);
        reporter.stop();
    });
});
