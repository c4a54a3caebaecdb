// Placeholder until the video wall lands (c3's module replaces this file): the console calls
// mountVideoWall(container, {api, session}) once the requester's view is up.
export function mountVideoWall(container) {
  container.dataset.videowall = "placeholder";
  return { update() {}, destroy() {} };
}
