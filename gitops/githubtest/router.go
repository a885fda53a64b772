package githubtest

import (
	"net/http"
	"net/url"
	"strings"
)

// router matches a method and a path against patterns in the order they
// were added, first match wins. A pattern segment is a literal, "{name}" (one
// segment) or "{name...}" (one or more segments, possibly followed by more
// pattern segments, as in /commits/{ref...}/status, which http.ServeMux
// cannot express). Matched values are set as the request's path values.
//
// GitHub's paths overlap in ways http.ServeMux rejects as conflicts
// (/issues/comments/{id} and /issues/{number}/comments), hence this small
// router.
type router struct {
	routes   []route
	notFound http.Handler
}

type route struct {
	method   string
	segments []string
	h        http.Handler
}

func newRouter(notFound http.Handler) *router {
	return &router{notFound: notFound}
}

func (rt *router) handle(method, pattern string, h http.Handler) {
	rt.routes = append(rt.routes, route{method: method, segments: strings.Split(strings.Trim(pattern, "/"), "/"), h: h})
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	segments := strings.Split(path, "/")
	for i, seg := range segments {
		v, err := url.PathUnescape(seg)
		if err != nil {
			rt.notFound.ServeHTTP(w, r)
			return
		}
		segments[i] = v
	}
	for _, route := range rt.routes {
		if route.method != r.Method {
			continue
		}
		values, ok := match(route.segments, segments)
		if !ok {
			continue
		}
		for name, v := range values {
			r.SetPathValue(name, v)
		}
		route.h.ServeHTTP(w, r)
		return
	}
	rt.notFound.ServeHTTP(w, r)
}

// match matches path segments against pattern segments.
func match(pattern, path []string) (map[string]string, bool) {
	values := make(map[string]string)
	for i, p := range pattern {
		name, isVar := strings.CutPrefix(p, "{")
		if !isVar {
			if i >= len(path) || path[i] != p {
				return nil, false
			}
			continue
		}
		name = strings.TrimSuffix(name, "}")
		if rest, ok := strings.CutSuffix(name, "..."); ok {
			tail := pattern[i+1:]
			end := len(path) - len(tail)
			if end <= i {
				return nil, false
			}
			for _, seg := range path[i:end] {
				if seg == "" {
					return nil, false
				}
			}
			tailValues, ok := match(tail, path[end:])
			if !ok {
				return nil, false
			}
			values[rest] = strings.Join(path[i:end], "/")
			for k, v := range tailValues {
				values[k] = v
			}
			return values, true
		}
		if i >= len(path) || path[i] == "" {
			return nil, false
		}
		values[name] = path[i]
	}
	if len(path) != len(pattern) {
		return nil, false
	}
	return values, true
}
