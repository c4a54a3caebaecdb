// The console's one door to the API: same-origin fetch with the session cookie, the CSRF token on
// every state change, gilmok's error shape ({code, message, details}) thrown as ApiError, and the
// server-sent events of /v1/events. The CSRF token lives in memory only.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || "http_error";
    this.details = body?.details || {};
  }
}

export const EVENT_TYPES = [
  "incident.opened",
  "incident.closed",
  "feed_request.created",
  "feed_request.approved",
  "feed_request.denied",
  "feed_request.deferred",
  "feed_request.failed",
  "feed_request.revoked",
  "feed_request.expired",
  "feed_session.live",
  "feed_session.ended",
  "feed_session.source_lost",
  "feed_session.source_restored",
  "activation.started",
  "activation.ended",
  // the server says: fetch every list again (missed too much), or this stream is over
  "resync",
  "end",
];

export class Api {
  constructor() {
    this.csrfToken = null;
    this.source = null;
    this.listeners = new Set();
    this.statusListeners = new Set();
    this.connected = false;
  }

  async request(method, path, body, { accept = "application/json" } = {}) {
    const headers = { Accept: accept };
    if (method !== "GET" && method !== "HEAD") {
      if (this.csrfToken) headers["X-CSRF-Token"] = this.csrfToken;
      if (body !== undefined) headers["Content-Type"] = "application/json";
    }
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!response.ok) {
      let error = null;
      try {
        error = await response.json();
      } catch {
        // not our JSON: keep the status
      }
      throw new ApiError(response.status, error);
    }
    if (response.status === 204) return null;
    if (accept === "application/json") return response.json();
    return response.blob();
  }

  get(path, params) {
    const query = params ? `?${new URLSearchParams(clean(params))}` : "";
    return this.request("GET", `${path}${query}`);
  }

  post(path, body = {}) {
    return this.request("POST", path, body);
  }

  async signIn(apiKey) {
    const session = await this.request("POST", "/v1/session", { api_key: apiKey });
    this.csrfToken = session.csrf_token;
    return session;
  }

  async session() {
    try {
      const session = await this.get("/v1/session");
      this.csrfToken = session.csrf_token || this.csrfToken;
      return session;
    } catch (error) {
      if (error.status === 401) return null;
      throw error;
    }
  }

  async signOut() {
    this.closeEvents();
    try {
      await this.request("DELETE", "/v1/session");
    } finally {
      this.csrfToken = null;
    }
  }

  /** Calls listener(type, data) for every event of /v1/events; returns the unsubscribe. */
  onEvent(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls listener(connected) when the event stream opens or drops. */
  onStatus(listener) {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  openEvents() {
    if (this.source) return;
    const source = new EventSource("/v1/events");
    this.source = source;
    const emit = (type) => (message) => {
      let data = {};
      try {
        data = JSON.parse(message.data || "{}");
      } catch {
        // an event without JSON still means "refetch"
      }
      for (const listener of this.listeners) listener(type, data);
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, emit(type));
    // The stream ended for good (signed out, session over, key revoked): no reconnecting.
    source.addEventListener("end", () => {
      this.closeEvents();
    });
    source.addEventListener("open", () => this.setConnected(true));
    source.addEventListener("error", () => this.setConnected(false));
  }

  closeEvents() {
    this.source?.close();
    this.source = null;
    this.setConnected(false);
  }

  setConnected(connected) {
    this.connected = connected;
    for (const listener of this.statusListeners) listener(connected);
  }
}

function clean(params) {
  return Object.fromEntries(
    Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== ""),
  );
}
