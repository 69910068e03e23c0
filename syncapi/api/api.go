// Package api is the sync component's contract: the bus topics it consumes
// and publishes for the signals it keeps (typing, receipts, presence,
// notifications) and the types of their bodies. Like every api package it
// imports only the standard library, gomatrixserverlib and internal/coded.
package api
