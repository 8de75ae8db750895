// The ring tone of the incoming-call panel, made with Web Audio (no sound file to ship): two
// short tones every two seconds while any call rings. Browsers may refuse sound before the
// user has interacted with the page; status() says so ("blocked") instead of failing.
export class Ringer {
    private readonly ringing = new Set<number>();
    private context: AudioContext | null = null;
    private timer: number | undefined;
    private blocked = false;

    start(ringId: number): void {
        this.ringing.add(ringId);
        if (this.timer === undefined) {
            this.ring();
            this.timer = window.setInterval(() => this.ring(), 2000);
        }
    }

    stop(ringId: number): void {
        this.ringing.delete(ringId);
        if (this.ringing.size === 0 && this.timer !== undefined) {
            window.clearInterval(this.timer);
            this.timer = undefined;
        }
    }

    status(): 'playing' | 'blocked' | 'idle' {
        if (this.ringing.size === 0) {
            return 'idle';
        }
        return this.blocked ? 'blocked' : 'playing';
    }

    private ring(): void {
        try {
            this.context ??= new AudioContext();
            if (this.context.state === 'suspended') {
                this.blocked = true;
                void this.context.resume().then(() => { this.blocked = false; }, () => undefined);
            }
            const start = this.context.currentTime;
            for (const [offset, frequency] of [[0, 440], [0.4, 480]] as const) {
                const oscillator = this.context.createOscillator();
                const gain = this.context.createGain();
                oscillator.frequency.value = frequency;
                gain.gain.value = 0.08;
                oscillator.connect(gain).connect(this.context.destination);
                oscillator.start(start + offset);
                oscillator.stop(start + offset + 0.3);
            }
        } catch {
            this.blocked = true;
        }
    }
}
