//! Notifications, requests, responses and timeouts.
