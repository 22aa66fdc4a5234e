// The operator's web console (docs/operations.md, "The web console"): its
// static files, compiled into libkeel at build time from the files beside
// this header (cmake/embed_assets.cmake writes console_assets.cpp).
//
// Contract:
//  * assets() lists every file once: index.html at "/", the others at
//    "/console/<name>", each with its Content-Type. The list and the bytes
//    are fixed for the life of the process.
//  * The files hold no data: they load without the admin token, and the page
//    then calls the admin JSON API (with the token the operator types in).
//  * security_headers() are sent with every answer of the admin server: the
//    Content-Security-Policy allows this origin's files only (no inline
//    script, no outside host), and the page may not be framed.
// Thread-safety: read-only data.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace keel::admin::console {

struct Asset {
  std::string_view path;          // the URL path it is served at
  std::string_view content_type;  // e.g. "text/html; charset=utf-8"
  std::string_view body;
};

const std::vector<Asset>& assets();

// The asset served at `path` (exact, not percent-decoded), or nullptr.
const Asset* find_asset(std::string_view path);

// Headers for every answer of the admin server (JSON included).
const std::vector<std::pair<std::string_view, std::string_view>>& security_headers();

}  // namespace keel::admin::console
