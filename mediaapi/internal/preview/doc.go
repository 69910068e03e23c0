// Package preview fetches web pages and images for URL previews
// (`GET /_matrix/client/v1/media/preview_url`, client-server API,
// "Content repository") and reads their OpenGraph data.
//
// A [Fetcher] reaches only http and https URLs and only public addresses:
// the address is checked on the socket actually dialled (net.Dialer's
// ControlContext), after DNS, for the first request and for every
// redirect, so neither DNS rebinding nor a redirect reaches a private
// network. Config.IPRangeWhitelist opens ranges that are otherwise refused
// (a test server on loopback, an intranet wiki); Config.IPRangeBlacklist
// closes more. Every fetch is bounded in size (Config.MaxBytes) and in
// time (Config.Timeout), uses no proxy from the environment, and fails
// with one of the package's [Error] sentinels, which carry the Matrix
// status and errcode a client is answered with.
//
// The media component uses it in three steps:
//
//	page, err := f.Preview(ctx, url)          // the page's og:* data
//	body, ctype, err := f.FetchImage(ctx, page.ImageURL) // when ImageURL != ""
//	// ... store body as media, decode its dimensions ...
//	answer := page.Response(&preview.Image{MXC: ..., ContentType: ctype, Size: ..., Width: ..., Height: ...})
//
// Storing the image and caching answers are the caller's.
package preview
