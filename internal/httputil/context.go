package httputil

import "context"

func contextWithRoute(ctx context.Context, h *routeHolder) context.Context {
	return context.WithValue(ctx, routeKey{}, h)
}
