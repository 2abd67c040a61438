// The queue of events not yet acknowledged, kept in localStorage so that it
// survives a reload, a closed tab or a crash.
//
// Several tabs of one site run the SDK at once. Each page keeps its own
// record (prefix + "q:" + its id) and a heartbeat (prefix + "h:" + its id):
// the time until which it promises to be alive. No page touches a live
// page's record. A page that closes sets its heartbeat to 0 (pagehide); a
// crashed page's heartbeat runs out. Any page may then adopt the record:
// read it, remove it, and send its events as its own. Two pages can adopt
// the same record at the same moment (localStorage has no transactions),
// and a closing page's last keepalive request may have landed already;
// both then send the same events, which keep their messageIds, so the
// server stores each once.

import type { Item } from "./batch";
import { keys, read, remove, write } from "./storage";

export class Queue {
  _items: Item[] = [];
  private _q: string;
  private _h: string;
  private _saving = false;
  /** closed is set from pagehide until the page shows again (back/forward cache). */
  private _closed = false;
  /** stored is false while localStorage refuses our writes. */
  _stored = true;

  constructor(
    private _prefix: string,
    id: string,
    private _maxEvents: number,
    private _maxBytes: number,
    /** alive is how long a heartbeat lasts, in ms. */
    private _alive: number,
    private _size: (e: Item["e"]) => number,
    private _dropped: (items: Item[]) => void,
  ) {
    this._q = _prefix + "q:" + id;
    this._h = _prefix + "h:" + id;
  }

  /**
   * push adds items not queued yet (by messageId), in time order (the ids
   * are UUIDv7s, so adopted events fall in place), then drops the oldest
   * over the bounds.
   */
  _push(items: Item[]): void {
    const have = new Set(this._items.map((it) => it.e.messageId));
    for (const it of items) if (!have.has(it.e.messageId)) have.add(it.e.messageId), this._items.push(it);
    this._items.sort((a, b) => (a.e.messageId < b.e.messageId ? -1 : 1));
    let bytes = this._items.reduce((s, it) => s + it.n, 0);
    let over = 0;
    while (this._items.length - over > this._maxEvents || bytes > this._maxBytes) bytes -= this._items[over++].n;
    if (over) this._dropped(this._items.splice(0, over));
    this._save();
  }

  /** remove takes the items with these messageIds out and returns the ids it removed. */
  _remove(ids: Set<string>): Set<string> {
    const gone = new Set<string>();
    this._items = this._items.filter((it) => !(ids.has(it.e.messageId) && gone.add(it.e.messageId)));
    if (gone.size) this._save();
    return gone;
  }

  /** save writes the record once the current task's changes are done. */
  _save(): void {
    if (!this._saving) {
      this._saving = true;
      Promise.resolve().then(() => this._persist());
    }
  }

  /**
   * persist writes the record now (or removes it when empty) with a fresh
   * heartbeat, or, once the page is closing, with one that has run out, so
   * the next page adopts what is left.
   */
  _persist(): void {
    this._saving = false;
    if (!this._items.length) {
      remove(this._q);
      remove(this._h);
      this._stored = true;
      return;
    }
    this._stored = this._beat() && write(this._q, this._items.map((it) => it.e));
  }

  /** beat renews the heartbeat of a non-empty queue. */
  _beat(): boolean {
    return !this._items.length || write(this._h, this._closed ? 0 : Date.now() + this._alive);
  }

  /** close hands the record over (pagehide); open takes it back (pageshow). */
  _close(closed = true): void {
    this._closed = closed;
    this._persist();
  }

  /**
   * adopt takes in the records of pages that closed or died. It returns
   * whether live pages hold records, which may need adopting later.
   */
  _adopt(): boolean {
    let live = false;
    const now = Date.now();
    for (const k of keys(this._prefix + "q:")) {
      if (k == this._q) continue;
      const h = this._prefix + "h:" + k.slice(this._prefix.length + 2);
      if (+read(h) > now) {
        live = true;
        continue;
      }
      const events = read(k);
      remove(k);
      remove(h);
      if (Array.isArray(events)) {
        const items: Item[] = [];
        for (const e of events) {
          if (e && typeof e.messageId == "string") {
            try {
              items.push({ e, n: this._size(e) });
            } catch {
              // not an event this SDK wrote
            }
          }
        }
        this._push(items);
      }
    }
    return live;
  }
}
