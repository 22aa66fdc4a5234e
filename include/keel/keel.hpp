/// @file
/// keel/keel.hpp — the whole public API of Keel in one include.
#pragma once

/// @namespace keel
/// Keel's public API. Names in keel::detail are internal.

#include "keel/bulk.hpp"
#include "keel/client.hpp"
#include "keel/config.hpp"
#include "keel/context.hpp"
#include "keel/debounce.hpp"
#include "keel/errors.hpp"
#include "keel/handle.hpp"
#include "keel/logging.hpp"
#include "keel/messaging.hpp"
#include "keel/queue.hpp"
#include "keel/schedule.hpp"
#include "keel/runtime.hpp"
#include "keel/serialization.hpp"
#include "keel/sql.hpp"
#include "keel/status.hpp"
#include "keel/step_options.hpp"
#include "keel/stream.hpp"
#include "keel/transaction_options.hpp"
#include "keel/upgrade_check.hpp"
#include "keel/version.hpp"
#include "keel/workflow.hpp"
