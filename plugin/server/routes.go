package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"
)

const (
	maxBody = 64 * 1024
	// meetbridge's route for "start or join this channel's meeting".
	meetbridgeMeetingPath = "/api/plugin/meeting"
	// meetbridge's route for "the meetings in progress in my channels" (sidebar indicator).
	meetbridgeMeetingsPath = "/api/plugin/meetings"
	// meetbridge's route for a callee's answer to a ringing call (the panel's Ignore).
	meetbridgeRingPath = "/api/plugin/ring"
	// The largest ring id a JSON number carries exactly.
	maxRingID = 1 << 53
)

const misconfigured = "meetbridge and this plugin are not set up with the same shared secret; " +
	"ask a system admin"

var (
	mattermostID = regexp.MustCompile(`^[a-z0-9]{26}$`)
	eventName    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
)

// ServeHTTP answers /plugins/<id>/… (Mattermost strips that prefix and sets Mattermost-User-Id
// only for a signed-in user, removing any such header a client sent).
func (p *Plugin) ServeHTTP(_ *plugin.Context, w http.ResponseWriter, r *http.Request) {
	p.router().ServeHTTP(w, r)
}

func (p *Plugin) router() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/status", p.requireUser(p.status))
	mux.HandleFunc("POST /api/v1/meeting", p.requireUser(p.startMeeting))
	mux.HandleFunc("GET /api/v1/meetings", p.requireUser(p.meetingsInProgress))
	mux.HandleFunc("POST /api/v1/ring", p.requireUser(p.answerRing))
	mux.HandleFunc("POST /api/v1/events", p.receiveEvent)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such route")
	})
	return mux
}

// requireUser refuses requests that did not come from a signed-in Mattermost user.
func (p *Plugin) requireUser(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !mattermostID.MatchString(r.Header.Get(headerUserID)) {
			writeError(w, http.StatusUnauthorized, "sign in to Mattermost first")
			return
		}
		next(w, r)
	}
}

func (p *Plugin) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"configured": p.configuration().ready()})
}

type meetingRequest struct {
	ChannelID string `json:"channel_id"`
	Topic     string `json:"topic,omitempty"`
}

// startMeeting: the call button's "start or join this channel's meeting", forwarded to
// meetbridge with the user's id under the shared secret; meetbridge checks everything else.
func (p *Plugin) startMeeting(w http.ResponseWriter, r *http.Request) {
	cfg := p.configuration()
	if !cfg.ready() {
		writeError(w, http.StatusServiceUnavailable, "the meetbridge plugin is not configured")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var asked meetingRequest
	if json.Unmarshal(body, &asked) != nil || !mattermostID.MatchString(asked.ChannelID) {
		writeError(w, http.StatusBadRequest, "channel_id must be a Mattermost channel id")
		return
	}
	if len(asked.Topic) > 1000 {
		writeError(w, http.StatusBadRequest, "the topic is too long")
		return
	}
	forwarded, _ := json.Marshal(asked)
	p.relay(w, r, cfg, meetbridgeMeetingPath, forwarded)
}

// meetingsInProgress: the channels of this user with a meeting in progress, as meetbridge
// knows them (the webapp's sidebar indicator on load and after a reconnection).
func (p *Plugin) meetingsInProgress(w http.ResponseWriter, r *http.Request) {
	cfg := p.configuration()
	if !cfg.ready() {
		writeError(w, http.StatusServiceUnavailable, "the meetbridge plugin is not configured")
		return
	}
	p.relay(w, r, cfg, meetbridgeMeetingsPath, []byte("{}"))
}

type ringAnswer struct {
	RingID int64  `json:"ring_id"`
	Answer string `json:"answer"`
}

// answerRing: the callee ignores a call ringing for them; meetbridge checks that it is theirs.
func (p *Plugin) answerRing(w http.ResponseWriter, r *http.Request) {
	cfg := p.configuration()
	if !cfg.ready() {
		writeError(w, http.StatusServiceUnavailable, "the meetbridge plugin is not configured")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var answer ringAnswer
	if json.Unmarshal(body, &answer) != nil || answer.Answer != "ignore" ||
		answer.RingID <= 0 || answer.RingID >= maxRingID {
		writeError(w, http.StatusBadRequest, `expected {"ring_id": <number>, "answer": "ignore"}`)
		return
	}
	forwarded, _ := json.Marshal(answer)
	p.relay(w, r, cfg, meetbridgeRingPath, forwarded)
}

// relay forwards a signed call for the request's user and passes meetbridge's JSON answer on;
// a refusal of the plugin itself, or no answer, is a 502 that says whose fault it is.
func (p *Plugin) relay(w http.ResponseWriter, r *http.Request, cfg *configuration, path string, body []byte) {
	status, answer, err := p.callMeetbridge(r.Context(), cfg, path, r.Header.Get(headerUserID), body)
	if err != nil {
		p.warn("meetbridge cannot be reached", "error", err.Error())
		writeError(w, http.StatusBadGateway, "meetbridge cannot be reached right now")
		return
	}
	if status == http.StatusUnauthorized || status == http.StatusServiceUnavailable {
		// Not the user's fault: the two sides do not share a secret (or meetbridge has none).
		p.warn("meetbridge refused the plugin: check the shared secret on both sides",
			"status", status)
		writeError(w, http.StatusBadGateway, misconfigured)
		return
	}
	if status >= 500 {
		writeError(w, http.StatusBadGateway, "meetbridge could not answer right now")
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	if !json.Valid(answer) {
		writeError(w, http.StatusBadGateway, "meetbridge could not answer right now")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(answer)
}

// callMeetbridge POSTs a signed JSON body; returns meetbridge's status and (bounded) body.
func (p *Plugin) callMeetbridge(
	ctx context.Context, cfg *configuration, path, userID string, body []byte,
) (int, []byte, error) {
	request, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.MeetbridgeURL+path,
		bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	timestamp := timestampOf(p.now())
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set(headerTimestamp, timestamp)
	request.Header.Set(headerUserID, userID)
	request.Header.Set(headerSignature,
		sign(cfg.SharedSecret, http.MethodPost, path, timestamp, userID, body))
	response, err := p.client.Do(request)
	if err != nil {
		return 0, nil, err
	}
	defer response.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(response.Body, maxBody))
	if err != nil {
		return 0, nil, err
	}
	return response.StatusCode, answer, nil
}

type pushedEvent struct {
	Event     string         `json:"event"`
	Data      map[string]any `json:"data"`
	ChannelID string         `json:"channel_id,omitempty"`
	UserID    string         `json:"user_id,omitempty"`
}

// receiveEvent: meetbridge pushes a meeting or ringing event, signed; the plugin publishes
// it to the clients of one channel or one user as custom_<plugin id>_<event>.
func (p *Plugin) receiveEvent(w http.ResponseWriter, r *http.Request) {
	cfg := p.configuration()
	if !cfg.ready() {
		writeError(w, http.StatusServiceUnavailable, "the meetbridge plugin is not configured")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	err := verify(cfg.SharedSecret, signedRequest{
		Method:    r.Method,
		Path:      r.URL.Path,
		Timestamp: r.Header.Get(headerTimestamp),
		Signature: r.Header.Get(headerSignature),
		UserID:    r.Header.Get(headerUserID),
		Body:      body,
	}, p.now())
	if err != nil {
		p.warn("refused an unsigned or badly signed event", "reason", err.Error())
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	var event pushedEvent
	if json.Unmarshal(body, &event) != nil || !eventName.MatchString(event.Event) {
		writeError(w, http.StatusBadRequest, "expected {event, data, channel_id | user_id}")
		return
	}
	broadcast, problem := audienceOf(event)
	if problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	if event.Data == nil {
		event.Data = map[string]any{}
	}
	p.publish(event.Event, event.Data, broadcast)
	w.WriteHeader(http.StatusNoContent)
}

// audienceOf: exactly one channel or one user, never everyone by accident.
func audienceOf(event pushedEvent) (*model.WebsocketBroadcast, string) {
	switch {
	case event.ChannelID != "" && event.UserID != "":
		return nil, "name either channel_id or user_id, not both"
	case mattermostID.MatchString(event.ChannelID):
		return &model.WebsocketBroadcast{ChannelId: event.ChannelID}, ""
	case mattermostID.MatchString(event.UserID):
		return &model.WebsocketBroadcast{UserId: event.UserID}, ""
	}
	return nil, "channel_id or user_id must be a Mattermost id"
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "request too large")
		} else {
			writeError(w, http.StatusBadRequest, "the request body cannot be read")
		}
		return nil, false
	}
	return body, true
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}

func writeJSON(w http.ResponseWriter, status int, value any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(value)
}

// warn logs through the server (absent in unit tests).
func (p *Plugin) warn(message string, keyValues ...any) {
	if p.API != nil {
		p.API.LogWarn(message, keyValues...)
	}
}
