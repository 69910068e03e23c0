// Package export writes a whole room, or everything a user has on this
// server, to files for audits, legal requests and data-subject requests:
// JSON lines with a manifest of SHA-256 digests, the media referenced, and
// (for a room) a readable HTML transcript. The admin API streams a room's
// export as a zip (GET /_synapse/admin/v1/rooms/{roomId}/export) and
// `myelin export-room` / `myelin export-user` write a directory; both use
// this package, which reads only through the components' api packages.
//
// Memory stays flat in the room's size: events are read page by page in
// DAG order, in three passes (a scan for edits and media, the JSON lines,
// the transcript); what is kept across pages grows with the number of
// members, edited messages and media files only. The format is described
// in docs/api-extensions.md ("Room export").
package export
