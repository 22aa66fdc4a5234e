// Leader/follower batching: the core shared by the committers
// (group_commit.hpp on SQLite, postgres/pipeline_committer.hpp).
//
// A lane runs one batch at a time: SQLite has one (its one writer
// connection); PostgreSQL a few writer connections, so that one batch
// executes while another waits for its WAL flush. Lane 0 takes any item;
// the other lanes only items for which any_lane(item) is true (PostgreSQL:
// single statements, which lock one workflow row at most, while general
// units, which run user transactions, stay on lane 0, where they cannot
// deadlock with one another).
//
// Each caller queues an item and leads when a lane that takes its item is
// free, or sleeps. The leader takes up to max_batch queued items its lane
// takes (its own among them unless another leader took it), runs them as
// one batch outside the lock, marks them done and steps down, waking for
// each free lane the oldest caller whose item it takes (unless a caller
// arriving meanwhile leads first, taking that one along). Taking a lane
// wakes callers for the lanes still free the same way, since a woken caller
// may lead on another lane than the one it was woken for. Every caller sleeps on a
// condition variable of its own and is woken only when its item is done or
// it may lead: no caller wakes only to sleep again (with one shared
// condition variable, every batch woke all of them). Wake-ups are sent after
// the lock is released: a caller woken while the waker still held it would
// only sleep again on the lock (a third of the committers' futex sleeps at 64
// clients). Tickets are shared between their caller, the queue and the
// leader, so a caller that sees `done` and returns cannot free the condition
// variable a leader is about to notify.
//
// A unit that submits to the batcher running it (a transaction body calling
// back into Keel) would wait for its own batch forever: submit() refuses it
// with UsageError instead (runtime/transaction_body.hpp names the call
// first; this is the backstop).
//
// Thread-safe. Items live on their callers' stacks until done.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "keel/errors.hpp"

namespace keel::sysdb {

namespace batcher_detail {
// The batcher whose batch this thread is executing, if any.
inline thread_local const void* t_executing = nullptr;
}  // namespace batcher_detail

template <class Item>
class Batcher {
 public:
  using AnyLane = std::function<bool(const Item&)>;

  explicit Batcher(size_t max_batch, size_t lanes = 1, AnyLane any_lane = nullptr)
      : max_batch_(max_batch), any_lane_(std::move(any_lane)) {
    for (size_t i = lanes; i > 0; --i) free_lanes_.push_back(i - 1);
  }

  // Queues item and returns once a batch holding it has run.
  // execute(batch, lane) (a std::vector<Item*>& and the lane's index) runs on
  // some caller's thread, one batch per lane at a time; it must not throw (it
  // records failures in the items).
  template <class Execute>
  void submit(Item& item, Execute&& execute) {
    if (batcher_detail::t_executing == this)
      throw UsageError("a system database write from inside a unit of the batch that runs it (a transaction body "
                       "calling back into Keel?) would wait for itself");
    const auto ticket = std::make_shared<Ticket>(&item);  // held until this returns
    Ticket& me = *ticket;
    std::unique_lock lock(mu_);
    queue_.push_back(ticket);
    while (!me.done) {
      // A caller whose item another leader took waits for that batch.
      if (auto lane = me.taken ? std::nullopt : free_lane_for(item)) {
        lead(lock, me, *lane, execute);
      } else {
        me.cv.wait(lock);
      }
    }
  }

 private:
  struct Ticket {
    explicit Ticket(Item* i) : item(i) {}
    Item* item;
    std::condition_variable cv;
    bool taken = false;  // by a leader, into its batch
    bool done = false;
  };
  using Wakes = std::vector<std::shared_ptr<Ticket>>;

  static void notify(const Wakes& wakes) {
    for (const auto& t : wakes) t->cv.notify_one();
  }

  bool takes(size_t lane, const Item& item) const { return lane == 0 || !any_lane_ || any_lane_(item); }

  // Takes the lane out of free_lanes_; called with the lock held. The
  // lowest free lane that takes the item: a light load keeps to lane 0 (one
  // warm server session, woken for every batch) and the others take only
  // what arrives while it is busy.
  std::optional<size_t> free_lane_for(const Item& item) {
    auto best = free_lanes_.end();
    for (auto it = free_lanes_.begin(); it != free_lanes_.end(); ++it)
      if (takes(*it, item) && (best == free_lanes_.end() || *it < *best)) best = it;
    if (best == free_lanes_.end()) return std::nullopt;
    size_t lane = *best;
    free_lanes_.erase(best);
    return lane;
  }

  // Called with the lock held, by the leader `me`, owning `lane`; returns
  // with it held.
  template <class Execute>
  void lead(std::unique_lock<std::mutex>& lock, Ticket& me, size_t lane, Execute& execute) {
    Wakes taken;
    std::vector<Item*> batch;
    for (auto it = queue_.begin(); it != queue_.end() && taken.size() < max_batch_;) {
      if (!takes(lane, *(*it)->item)) {
        ++it;
        continue;
      }
      (*it)->taken = true;
      batch.push_back((*it)->item);
      taken.push_back(std::move(*it));
      it = queue_.erase(it);
    }
    Wakes others = wakes_for_free_lanes(me);  // another lane may be free too
    lock.unlock();
    notify(others);
    {
      const void* outer = std::exchange(batcher_detail::t_executing, this);
      execute(batch, lane);  // must not throw
      batcher_detail::t_executing = outer;
    }
    lock.lock();
    for (const auto& t : taken) t->done = true;
    free_lanes_.push_back(lane);
    Wakes leaders = wakes_for_free_lanes(me);
    lock.unlock();
    for (const auto& t : taken)
      if (t.get() != &me) t->cv.notify_one();
    notify(leaders);
    lock.lock();
  }

  // For each free lane, the oldest queued caller it takes, to be woken (me,
  // awake, looks by itself). Called with the lock held whenever a lane is
  // freed or taken: a woken caller may lead on another free lane than the one
  // it was woken for, and the lane left free must not wait for a wake-up that
  // never comes (a lane-0-only caller would sleep forever).
  Wakes wakes_for_free_lanes(const Ticket& me) {
    Wakes wakes;
    for (size_t lane : free_lanes_) {
      for (const auto& t : queue_) {
        if (t->taken || !takes(lane, *t->item)) continue;
        if (t.get() != &me) wakes.push_back(t);
        break;
      }
    }
    return wakes;
  }

  const size_t max_batch_;
  const AnyLane any_lane_;
  std::mutex mu_;
  std::list<std::shared_ptr<Ticket>> queue_;  // guarded by mu_; oldest first
  std::vector<size_t> free_lanes_;  // guarded by mu_
};

}  // namespace keel::sysdb
