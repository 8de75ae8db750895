"""English: meetbridge's reference catalogue (every key is here; others may lack some)."""

from __future__ import annotations

from typing import Final

MESSAGES: Final[dict[str, str]] = {
    # --- durations ----------------------------------------------------------------------
    "duration.seconds.one": "{count} second",
    "duration.seconds.other": "{count} seconds",
    "duration.minutes.one": "{count} minute",
    "duration.minutes.other": "{count} minutes",
    "duration.hours.one": "{count} hour",
    "duration.hours.other": "{count} hours",
    # --- buttons ------------------------------------------------------------------------
    "button.join": "Join",
    "button.leave": "Leave",
    "button.end": "End",
    "button.ignore": "Ignore",
    "button.allow": "Allow",
    "button.disallow": "Disallow",
    # --- the meeting card (channel posts) -------------------------------------------------
    "card.someone": "Someone",
    "card.nobody_yet": "nobody yet",
    "card.started_by": "Started by",
    "card.engine": "Engine",
    "card.meeting_id": "Meeting ID",
    "card.duration": "Duration",
    "card.attended_by": "Attended by ({count})",
    "card.in_meeting": "In the meeting ({count})",
    "card.ended_message": "Video meeting ended{topic}. It lasted {lasted}.",
    "card.ended_title": "Meeting ended{topic}",
    "card.ended_text": "Lasted {lasted}.",
    "card.started_message": "{starter} started a video meeting{topic}.",
    "card.live_title": "Video meeting in progress{topic}",
    "card.join_link": "[Join Meeting]({url})",
    "card.join_button_hint": "Use the Join button to take part.",
    "card.meet_join_hint": "Use /meet join to take part.",
    "card.own_apps_footer": (
        "Leave closes meetbridge's meeting page. In {engine}'s own app, "
        "leave with its Disconnect button."
    ),
    # --- ringing (direct messages from the bot) --------------------------------------------
    "ring.calling": ":telephone_receiver: **{caller}** is calling you ({where}).",
    "ring.answer_hint": "Use /meet join in that conversation to answer.",
    "ring.missed": ":no_mobile_phones: Missed call from **{caller}** ({where}).",
    "ring.ignored": "You ignored a call from **{caller}** ({where}).",
    "ring.answered": "You joined the call with **{caller}** ({where}).",
    "ring.direct_message": "direct message",
    "ring.group_message": "group message",
    "ring.group_message_named": "group message {title}",
    "ring.no_longer_available": "This call is no longer available.",
    "ring.ignored_reply": "Call ignored.",
    # --- /meet help -----------------------------------------------------------------------
    "help.unknown": "`{command}` is not a /meet command.\n\n",
    "help.body": (
        "**/meet** — video meetings in this channel\n"
        "* `/meet` or `/meet start [topic]` — start the channel's meeting, or join it if it is "
        "running\n"
        "* `/meet join` — join the channel's meeting\n"
        "* `/meet status` — who is in the meeting, and for how long\n"
        "* `/meet link` — a lasting link to this channel's meeting, for members of the channel\n"
        "* `/meet leave` — take all your devices out of the meeting (LiveKit, Pexip; you "
        "confirm first)\n"
        "* `/meet end` — end the meeting for everyone (LiveKit, Pexip; its host or a system "
        "admin)\n"
        "* `/meet host @user` — hand host to someone in the meeting (LiveKit, Pexip; its host "
        "or an admin)\n"
        "* `/meet recording start|stop` — record the meeting, posted in its thread (LiveKit; "
        "host, admins)\n"
        "* `/meet captions on|off` — live captions in the meeting, for everyone (LiveKit; "
        "host, admins)\n"
        "* `/meet stats` — bitrate, packet loss and round-trip time of your last LiveKit "
        "session\n"
        "* `/meet max N|default` — the participant limit of this channel's LiveKit meetings "
        "(channel admins)\n"
        "* `/meet engine livekit|pexip|zoom|default` — the meeting engine of this channel "
        "(channel admins)\n"
        "* `/meet guest-link [hours]` — an expiring link for external guests (Pexip; channel "
        "admins)\n"
        "* `/meet connect` / `/meet disconnect` — connect or disconnect your Zoom account\n"
        "* `/meet settings` — whether Zoom meetings use your personal meeting ID\n"
        "* `/meet help` — this help"
    ),
    "help.admin": (
        "* `/meet admin` — a link to the meetbridge admin console\n"
        "* `/meet admin allow` / `/meet admin disallow` — allow or disallow meetings in this "
        "channel"
    ),
    # --- why someone may not join ------------------------------------------------------------
    "refusal.not_available": "Conference not available for this channel",
    "refusal.not_member": "Only members of this channel can join its meeting.",
    "refusal.unavailable": (
        "Mattermost cannot be reached right now; please try again in a moment."
    ),
    "refusal.not_configured": (
        "meetbridge has no Pexip Infinity server configured yet; ask an admin."
    ),
    "refusal.bad_link": "This meeting link is not valid.",
    "refusal.other_engine": "This channel's meetings now take place elsewhere; run /meet again.",
    "refusal.engine_refused": "You cannot join this meeting now.",
    # --- /meet replies (ephemeral) -----------------------------------------------------------
    "meet.opening": (
        "Opening the meeting… If it does not open, [join the meeting here]({url}) "
        "(this link is yours alone and works for 10 minutes)."
    ),
    "meet.opening_short": "Opening the meeting… If it does not open, [join here]({url}).",
    "meet.no_meeting": "No meeting is in progress in this channel. Start one with `/meet`.",
    "meet.status_empty": "A meeting{topic} has been running for {running}; nobody is in it "
    "right now.",
    "meet.status": "A meeting{topic} has been running for {running}. In it ({count}):\n{names}",
    "meet.link": (
        "Link to this channel's meeting: {url}\n"
        "It stays the same for every meeting here. Whoever opens it signs in with "
        "Mattermost and must be a member of this channel; it stops working if the channel "
        "is archived."
    ),
    "meet.admin_only": "Only system admins can use `/meet admin`.",
    "meet.admin_console": (
        "[Open the meetbridge admin console]({url}) (a personal link, valid for 10 minutes)."
    ),
    "meet.admin_channel": "Meetings in this channel:",
    "meet.engine_usage": "Use {choices} or `/meet engine default`.",
    "meet.max_usage": "Use `/meet max N` (1 to {max}) or `/meet max default`.",
    "meet.guest_link_usage": ("Use `/meet guest-link` or `/meet guest-link HOURS` (1 to {max})."),
    "meet.guest_links_unavailable": (
        "Guest links are not available for this channel's meeting engine."
    ),
    "meet.guest_links_direct": (
        "A direct message's meeting is only for the two people in it, so it has no guest "
        "links: make one in a channel or a group message."
    ),
    "meet.guest_link": (
        "Guest link for this channel's meeting, valid {hours}: {link}\n"
        "Share it only with the guests; revoke it in the admin console (Guest links)."
    ),
    "meet.mattermost_unreachable": (
        "Mattermost cannot be reached right now; please try again in a moment."
    ),
    "meet.channel_admins_only": "Only channel admins and system admins can {what}.",
    "meet.what.choose_engine": "choose this channel's engine",
    "meet.what.set_limit": "set this channel's participant limit",
    "meet.what.guest_links": "make guest links",
    "meet.confirmation_stale": "This confirmation does nothing any more.",
    "meet.limit_default": (
        "Meetings in this channel now take as many participants as the install allows."
    ),
    "meet.limit_set": "Meetings in this channel now take at most {limit} participants.",
    "meet.not_available_for": "`/meet {verb}` is not available for {engine} meetings.",
    "meet.not_in_meeting": "You are not in this channel's meeting.",
    "meet.nothing_running": "No meeting is in progress in this channel.",
    "meet.only_host_end": "Only the meeting's host or a system admin can end it.",
    "meet.only_host_recording": (
        "Only the meeting's host or a system admin can start or stop recording."
    ),
    "meet.only_host_captions": (
        "Only the meeting's host or a system admin can turn captions on or off."
    ),
    "meet.only_host_host": "Only the meeting's host or a system admin can hand host over.",
    "meet.host_usage": "Say who is to be host: `/meet host @username`.",
    "meet.try_again": "Mattermost cannot be reached right now; please try again.",
    "meet.not_present": "@{username} is not in this meeting.",
    "meet.engine_changed": "Meetings here use {engine} now; nothing changed.",
    "meet.left": "You left the meeting. Use `/meet join` to join again.",
    "meet.ended": "The meeting was ended for everyone.",
    "meet.member_gone": "That member is no longer in the meeting.",
    "meet.host_handed": "The host was handed over.",
    "meet.recording_usage": "Use `/meet recording start` or `/meet recording stop`.",
    "meet.captions_usage": "Use `/meet captions on` or `/meet captions off`.",
    "meet.no_accounts": "No meeting engine here uses personal accounts.",
    "meet.accounts_not_ready": "{engine} is not configured on meetbridge yet; ask an admin.",
    "meet.shared_account": (
        "{engine} is connected by an admin for everyone; there is nothing to connect."
    ),
    "meet.connect": (
        "[Connect your {engine} account]({link}) (a personal link, valid for 10 minutes)."
    ),
    "meet.not_yours": (
        "This request could not be confirmed as yours. Run the command again in Mattermost."
    ),
    "meet.not_confirmed": (
        "Mattermost could not show the confirmation (the request may have taken too long). "
        "Please try again."
    ),
    "meet.choose_option": "Choose one of the options.",
    "meet.engine_now": "Meetings in this channel now use {engine}.",
    "meet.admins_only_change": "Only system admins can change this.",
    "meet.admins_only_disconnect": "Only system admins can disconnect the shared {engine} account.",
    "meet.allowed": "Meetings are now allowed in this channel.",
    "meet.disallowed": "Meetings are now disallowed in this channel.",
    "meet.leave_in_window": (
        "To leave the meeting, select Disconnect in the meeting window (or close it)."
    ),
    "meet.button_stale": "This button does nothing any more.",
    "meet.this_channel": "this channel",
    "hours.one": "{count} hour",
    "hours.other": "{count} hours",
    # --- /meet stats ------------------------------------------------------------------------
    "stats.none": (
        "No call statistics from you yet. meetbridge's meeting page reports them while you "
        "are in a LiveKit meeting."
    ),
    "stats.report": (
        "Your last LiveKit session, as your browser measured it (WebRTC statistics, reported "
        "{ago} ago): sending {send} kbit/s, receiving {receive} kbit/s, packet loss {loss} %, "
        "round-trip time {rtt} ms."
    ),
    # --- confirmation dialogs (titles at most 24 characters) ----------------------------------
    "dialog.confirm": "Confirm",
    "dialog.save": "Save",
    "dialog.engine_default_title": "Use the default engine?",
    "dialog.engine_title": "Use {engine} here?",
    "dialog.engine_text": "Meetings in {channel} will use it from now on.",
    "dialog.max_title": "Set participant limit?",
    "dialog.max_text": "Meetings in {channel} take {shown} participants (devices) from now on.",
    "dialog.max_default": "the install's limit",
    "dialog.max_at_most": "at most {limit}",
    "dialog.guest_link_title": "Create a guest link?",
    "dialog.guest_link_text": (
        "Anyone with the link can join the meeting of {channel} as a guest for {hours}, "
        "until an admin revokes it."
    ),
    "dialog.guest_link_submit": "Create link",
    "dialog.leave_title": "Leave the meeting?",
    "dialog.leave_text": (
        "Every device you have in the meeting of {channel} leaves it. You can join again."
    ),
    "dialog.leave_submit": "Leave",
    "dialog.end_title": "End the meeting?",
    "dialog.end_text": "Everyone in the meeting of {channel} is disconnected.",
    "dialog.end_submit": "End meeting",
    "dialog.host_title": "Hand over host?",
    "dialog.host_text": "@{username} becomes the host of the meeting of {channel}.",
    "dialog.host_submit": "Make host",
    "dialog.recording_start_title": "Start recording?",
    "dialog.recording_start_text": (
        "Everyone in the meeting of {channel} is told it is being recorded; the recording is "
        "posted in the meeting's thread when it stops."
    ),
    "dialog.recording_start_submit": "Start recording",
    "dialog.recording_stop_title": "Stop recording?",
    "dialog.recording_stop_text": (
        "The recording of the meeting of {channel} stops and is posted in its thread."
    ),
    "dialog.recording_stop_submit": "Stop recording",
    "dialog.captions_on_title": "Turn on live captions?",
    "dialog.captions_on_text": (
        "Everyone in the meeting of {channel} is told, and can show or hide what is said as "
        "captions with the speaker's name."
    ),
    "dialog.captions_on_submit": "Turn on captions",
    "dialog.captions_off_title": "Turn off live captions?",
    "dialog.captions_off_text": "Captions stop for everyone in the meeting of {channel}.",
    "dialog.captions_off_submit": "Turn off captions",
    "dialog.disconnect_title": "Disconnect {engine}?",
    "dialog.disconnect_text": "meetbridge forgets your {engine} connection.",
    "dialog.settings_title": "{engine} settings",
    "dialog.allow_title": "Allow meetings here?",
    "dialog.allow_text": "Members of {channel} will be able to start and join meetings.",
    "dialog.disallow_title": "Disallow meetings here?",
    "dialog.disallow_text": "Nobody will be able to start or join meetings in {channel}.",
    # --- thread notices (posts in a meeting card's thread, read by many) -----------------------
    "thread.someone": "Someone",
    "thread.meeting_line": "**{name}** (in the meeting): {text}",
    "thread.incomplete": "**Incomplete:** {reason}",
    "recording.posted": "Recording of this meeting ({length}, {size}).",
    "recording.disk_full": "The recording stopped because the server's disk is nearly full.",
    "recording.cut_short": (
        "The recorder stopped unexpectedly; this is what it recorded until then."
    ),
    "transcript.no_speech": "Transcript of this meeting's recording: no speech was recognised.",
    "transcript.posted": "Transcript of this meeting's recording ({speakers}).",
    "transcript.more_speakers": "{names} and {count} more",
    "transcript.unreadable": (
        "The audio of {speakers} could not be read: their words are missing from this transcript."
    ),
    "transcript.none_readable": (
        "No transcript of this meeting's recording: the audio of {speakers} could not be read."
    ),
    "transcript.incomplete": "the recording stopped early; this covers what it holds.",
    "transcript.failed": (
        "The transcript of this recording could not be made ({reason}). Ask an admin."
    ),
    "transcript.failed.model_refused": "the speech model was refused",
    "transcript.failed.worker_failed": "the transcriber failed",
    # --- what engines answer (replies to the user who asked) ---------------------------------
    "engine.livekit_not_configured": (
        "meetbridge has no LiveKit server configured yet; ask an admin."
    ),
    "engine.livekit_unreachable": (
        "The LiveKit server cannot be reached right now; please try again in a moment."
    ),
    "engine.pexip_unreachable": (
        "The Pexip Conferencing Node cannot be reached right now; please try again."
    ),
    "engine.removed": "The host removed you from this meeting.",
    "engine.left_channel": (
        "You are no longer a member of this channel, so you were removed from its meeting."
    ),
    "engine.full.one": (
        "This meeting is full ({count} participant at most); try again when someone leaves."
    ),
    "engine.full.other": (
        "This meeting is full ({count} participants at most); try again when someone leaves."
    ),
    "engine.meeting_ended": "This meeting has ended.",
    "recording.needs_ffmpeg": "Recording needs ffmpeg on the meetbridge host; ask an admin.",
    "recording.needs_sdk": (
        "Recording needs meetbridge's `recording` extra (LiveKit's SDK); ask an admin."
    ),
    "recording.disk_low": (
        "Recording cannot start: the server's disk is nearly full. Ask an admin."
    ),
    "recording.already": "This meeting is already being recorded.",
    "recording.not_started": "The recorder could not be started.",
    "recording.started": (
        "Recording started. The file is posted in the meeting's thread when it stops."
    ),
    "recording.not_recording": "This meeting is not being recorded.",
    "recording.stopped": "Recording stopped. The file is posted in the meeting's thread shortly.",
    "captions.needs_sdk": (
        "Captions need meetbridge's `recording` extra (LiveKit's SDK); ask an admin."
    ),
    "captions.needs_model": (
        "Captions need meetbridge's `transcription` extra (the speech model); ask an admin."
    ),
    "captions.already_on": "Live captions are already on in this meeting.",
    "captions.not_started": "The captioner could not be started.",
    "captions.started": "Live captions are on: everyone in the meeting can show or hide them.",
    "captions.not_on": "Live captions are not on in this meeting.",
    "captions.stopped": "Live captions are off.",
    # --- the custom status shown while someone is in a meeting (their language) -------------
    "status.in_meeting": "In a video conference",
}
