// The plugin's React components. Each is made for one App (closures, not a React context), so
// that they are plain components the web app can mount wherever it registers them.
import React from 'react';

import type { App } from './app';
import { safeLink } from './client';
import type { Channel, PostTypeProps } from './mattermost';
import { describeElapsed, meetingCardOf, type MeetingCardView, type Person } from './post-card';
import { Ringer } from './ringer';
import { useSelected, withCallState, withoutCall, type IncomingCall } from './state';

const CAMERA_PATH =
    'M17 10.5V7a1 1 0 0 0-1-1H4a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1v-3.5l4 4v-11l-4 4z';

export function CameraIcon(): React.ReactElement {
    return (
        <svg width='16' height='16' viewBox='0 0 24 24' aria-hidden='true' className='mb-icon'>
            <path d={CAMERA_PATH} fill='currentColor' />
        </svg>
    );
}

export const APP_BAR_ICON =
    'data:image/svg+xml;utf8,' +
    encodeURIComponent(
        `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#1c58d9" d="${CAMERA_PATH}"/></svg>`,
    );

/** The channel header's call button (and its entry in the call-button dropdown). */
export function makeCallButton(app: App, inDropdown: boolean): React.ComponentType {
    return function MeetbridgeCallButton() {
        return (
            <span
                className={inDropdown ? 'mb-call-dropdown' : 'mb-call-button'}
                data-testid={inDropdown ? 'meetbridge-call-dropdown' : 'meetbridge-call-button'}
                title={app.t('call.tooltip')}
            >
                <CameraIcon />
                <span>{app.t('call.button')}</span>
            </span>
        );
    };
}

// --- the meeting card (custom post type) -------------------------------------------------

function useNow(active: boolean): number {
    const [now, setNow] = React.useState(() => Date.now());
    React.useEffect(() => {
        if (!active) {
            return undefined;
        }
        const timer = window.setInterval(() => setNow(Date.now()), 1000);
        return () => window.clearInterval(timer);
    }, [active]);
    return now;
}

function initials(name: string): string {
    const parts = name.trim().split(/\s+/).filter(Boolean);
    const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts;
    return letters.map(part => Array.from(part ?? '')[0] ?? '').join('').toUpperCase() || '?';
}

/** A member's Mattermost profile picture; initials for guests or when it cannot load. */
function Avatar({ app, person }: { app: App; person: Person }): React.ReactElement {
    const [failed, setFailed] = React.useState(false);
    if (!person.userId || failed) {
        return <span className='mb-avatar' aria-hidden='true'>{initials(person.name)}</span>;
    }
    return (
        <img className='mb-avatar' alt='' src={`${app.siteURL()}/api/v4/users/${person.userId}/image`}
            onError={() => setFailed(true)} />
    );
}

function Roster({ app, people }: { app: App; people: readonly Person[] }): React.ReactElement {
    return (
        <ul className='mb-roster' data-testid='meetbridge-roster'>
            {people.map((person, index) => (
                <li key={`${index}:${person.name}`} className='mb-roster__person'>
                    <Avatar app={app} person={person} />
                    <span className='mb-roster__name'>{person.name}</span>
                </li>
            ))}
        </ul>
    );
}

function MeetingCard({ app, post, card }: { app: App; post: PostTypeProps['post']; card: MeetingCardView }) {
    const now = useNow(card.live && card.startedAt !== null);
    const [busy, setBusy] = React.useState(false);
    const press = (run: () => Promise<unknown>) => {
        setBusy(true);
        run().finally(() => setBusy(false));
    };
    const elapsed = card.startedAt === null ? '' : describeElapsed(now - card.startedAt);
    const title = app.t(card.live ? 'card.live' : 'card.ended') + (card.topic ? `: ${card.topic}` : '');
    return (
        <div className={`mb-card ${card.live ? 'mb-card--live' : 'mb-card--ended'}`} data-testid='meetbridge-card'>
            <div className='mb-card__title'>
                <CameraIcon />
                <strong>{title}</strong>
                {card.live && elapsed && (
                    <span className='mb-card__duration' data-testid='meetbridge-duration'>{elapsed}</span>
                )}
            </div>
            <div className='mb-card__meta'>
                {card.startedBy && <span>{app.t('card.startedBy', { name: card.startedBy })}</span>}
                {card.engine && <span> {app.t('card.engine', { engine: card.engine })}</span>}
                {!card.live && card.lasted && <span> · {app.t('card.lasted', { duration: card.lasted })}</span>}
            </div>
            {card.people.length > 0 ? (
                <>
                    <div className='mb-card__label'>
                        {app.t(card.live ? 'card.inMeeting' : 'card.attended', { count: card.people.length })}
                    </div>
                    <Roster app={app} people={card.people} />
                </>
            ) : (
                card.live && <div className='mb-card__label'>{app.t('card.nobody')}</div>
            )}
            {card.live && card.ownApps && (
                <div className='mb-card__note' data-testid='meetbridge-own-apps'>
                    {app.t('card.ownApps', { engine: card.engine })}
                </div>
            )}
            {card.live && (
                <div className='mb-card__actions'>
                    {card.canJoinHere && (
                        <button className='mb-button mb-button--primary' disabled={busy}
                            onClick={() => press(() => app.openMeeting(post.channel_id))}>
                            {app.t('card.join')}
                        </button>
                    )}
                    {!card.canJoinHere && card.link && (
                        <a className='mb-button mb-button--primary' href={card.link} target='_blank' rel='noopener noreferrer'>
                            {app.t('card.join')}
                        </a>
                    )}
                    {card.actions.includes('leave') && (
                        <button className='mb-button' disabled={busy}
                            onClick={() => press(() => app.client.pressButton(post.id, 'leave'))}>
                            {app.t('card.leave')}
                        </button>
                    )}
                    {card.actions.includes('end') && (
                        <button className='mb-button mb-button--danger' disabled={busy}
                            onClick={() => press(() => app.client.pressButton(post.id, 'end'))}>
                            {app.t('card.end')}
                        </button>
                    )}
                </div>
            )}
        </div>
    );
}

/** meetbridge's other posts of the same type (a ringing message when the plugin was away):
 * their text and buttons, as the attachment fallback would show them. */
function PlainPost({ app, post }: { app: App; post: PostTypeProps['post'] }) {
    const attachments = Array.isArray(post.props?.attachments) ? post.props.attachments : [];
    const first: unknown = attachments[0];
    const actions =
        first !== null && typeof first === 'object' && Array.isArray((first as { actions?: unknown }).actions)
            ? ((first as { actions: unknown[] }).actions.filter(
                  (a): a is { id: string; name: string } =>
                      a !== null && typeof a === 'object' && typeof (a as { id?: unknown }).id === 'string' &&
                      typeof (a as { name?: unknown }).name === 'string',
              ))
            : [];
    return (
        <div className='mb-card mb-card--plain' data-testid='meetbridge-plain-post'>
            <div>{post.message}</div>
            {actions.length > 0 && (
                <div className='mb-card__actions'>
                    {actions.map(action => (
                        <button key={action.id} className='mb-button' onClick={() => void app.client.pressButton(post.id, action.id)}>
                            {action.name}
                        </button>
                    ))}
                </div>
            )}
        </div>
    );
}

export function makeMeetingPost(app: App): React.ComponentType<PostTypeProps> {
    return function MeetbridgePost({ post }: PostTypeProps) {
        const botUserId = useSelected(app.state, state => state.botUserId);
        if (!botUserId || post.user_id !== botUserId) {
            // Anyone may post this type with made-up props: only meetbridge's bot gets a card
            // and buttons; anything else is shown as the plain text it is.
            return <div className='mb-card mb-card--plain' data-testid='meetbridge-untrusted-post'>{post.message}</div>;
        }
        const card = meetingCardOf(post.props ?? {});
        return card ? <MeetingCard app={app} post={post} card={card} /> : <PlainPost app={app} post={post} />;
    };
}

// --- the incoming-call panel ------------------------------------------------------------

function CallPanel({ app, call, ringer }: { app: App; call: IncomingCall; ringer: Ringer }) {
    const ringing = call.state === 'ringing';
    const [tone, setTone] = React.useState('idle');
    React.useEffect(() => {
        if (!ringing) {
            return undefined;
        }
        ringer.start(call.ringId);
        setTone(ringer.status());
        return () => ringer.stop(call.ringId);
    }, [ringing, call.ringId]);
    const drop = () => app.state.update(state => withoutCall(state, call.ringId));
    if (call.state === 'missed') {
        return (
            <div className='mb-call mb-call--missed' role='status' data-testid='meetbridge-missed-call'>
                <span>{app.t('ring.missed', { caller: call.caller })}</span>
                {call.conversation && <span className='mb-call__where'>{call.conversation}</span>}
                <button className='mb-button' onClick={drop}>{app.t('ring.dismiss')}</button>
            </div>
        );
    }
    if (!ringing) {
        return null;
    }
    return (
        <div className='mb-call' role='alertdialog' aria-live='assertive' data-testid='meetbridge-incoming-call'
            aria-label={app.t('ring.calling', { caller: call.caller })}
            data-tone={tone}>
            <CameraIcon />
            <span className='mb-call__who'>{app.t('ring.calling', { caller: call.caller })}</span>
            {call.conversation && <span className='mb-call__where'>{call.conversation}</span>}
            <button className='mb-button mb-button--primary' onClick={() => {
                app.state.update(state => withCallState(state, call.ringId, 'answered'));
                void app.openMeeting(call.channelId);
            }}>
                {app.t('ring.join')}
            </button>
            <button className='mb-button' onClick={() => {
                app.state.update(state => withCallState(state, call.ringId, 'ignored'));
                void app.client.ignoreCall(call.ringId); // and in the user's other windows
            }}>
                {app.t('ring.ignore')}
            </button>
        </div>
    );
}

export function makeIncomingCalls(app: App): React.ComponentType {
    const ringer = new Ringer();
    return function MeetbridgeIncomingCalls() {
        const calls = useSelected(app.state, state => state.calls);
        const shown = calls.filter(call => call.state === 'ringing' || call.state === 'missed');
        if (shown.length === 0) {
            return null;
        }
        return (
            <div className='mb-calls'>
                {shown.map(call => <CallPanel key={call.ringId} app={app} call={call} ringer={ringer} />)}
            </div>
        );
    };
}

// --- the sidebar indicator --------------------------------------------------------------

export function makeSidebarIndicator(app: App): React.ComponentType<{ channel: Channel }> {
    return function MeetbridgeSidebarIndicator({ channel }: { channel: Channel }) {
        const live = useSelected(app.state, state => Boolean(channel && state.live[channel.id]));
        if (!live) {
            return null;
        }
        return (
            <span className='mb-live' title={app.t('sidebar.live')} aria-label={app.t('sidebar.live')}
                data-testid='meetbridge-live-indicator'>
                <CameraIcon />
            </span>
        );
    };
}

// --- the embedded meeting and notices (one root component: it survives channel switches) --

export function makeMeetingDock(app: App): React.ComponentType {
    return function MeetbridgeDock() {
        const embedded = useSelected(app.state, state => state.embedded);
        const notice = useSelected(app.state, state => state.notice);
        const src = embedded ? safeLink(embedded.url) : '';
        return (
            <>
                {embedded && src && (
                    <section className='mb-dock' data-testid='meetbridge-embedded-meeting' aria-label={embedded.title}>
                        <header className='mb-dock__bar'>
                            <span className='mb-dock__title'>{embedded.title}</span>
                            <button className='mb-button' onClick={() => app.popOut()}>{app.t('embed.popOut')}</button>
                            <button className='mb-button' aria-label={app.t('embed.close')} title={app.t('embed.close')}
                                onClick={() => app.closeEmbedded()}>×</button>
                        </header>
                        <iframe className='mb-dock__frame' src={src} title={embedded.title}
                            allow='camera; microphone; display-capture; autoplay; fullscreen' />
                    </section>
                )}
                {notice && (
                    <div className='mb-notice' role='alert' data-testid='meetbridge-notice'>
                        <span>{notice}</span>
                        <button className='mb-button' onClick={() => app.notify('')}>{app.t('notice.dismiss')}</button>
                    </div>
                )}
            </>
        );
    };
}
