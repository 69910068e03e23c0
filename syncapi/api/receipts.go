package api

// ReceiptTopic is the bus topic on which the sync component announces a
// receipt it stored (a local user's, or one another server sent), keyed by
// the room ID; the body is a Receipt. It is published in the transaction
// that stores the receipt. The sync component consumes it to wake the
// room's members (the owner only, for m.read.private) and to clear unread
// counts; the federation component sends local users' m.read receipts to
// the other servers in the room as m.receipt EDUs.
const ReceiptTopic = "syncapi.receipt"

// ReceiptInputTopic is the bus topic on which the federation component
// hands the sync component the receipts of an m.receipt EDU it accepted,
// keyed by the room ID; the body is a Receipt (Pos unset). The sync
// component stores them.
const ReceiptInputTopic = "syncapi.receipt_input"

// Receipt types (spec: client-server API, "Receipts").
const (
	ReceiptRead        = "m.read"
	ReceiptReadPrivate = "m.read.private"
)

// ThreadMain is the thread ID of a room's main timeline in threaded
// receipts (spec: "Threaded read receipts").
const ThreadMain = "main"

// Receipt is one user's receipt of one type in one room (and thread).
type Receipt struct {
	RoomID  string `json:"room_id"`
	UserID  string `json:"user_id"`
	Type    string `json:"receipt_type"`
	EventID string `json:"event_id"`
	// ThreadID is a thread root's event ID or ThreadMain; "" for an
	// unthreaded receipt.
	ThreadID string `json:"thread_id,omitempty"`
	TS       int64  `json:"ts"`
	// Pos is the receipt's position in the sync component's receipt
	// stream (ReceiptTopic only).
	Pos int64 `json:"pos,omitempty"`
}
