// Placeholder for the video wall (c3's module of the same name replaces this file whole).
// mountVideoWall(container, {api, session}) → {update({incident, feeds}), destroy()}
export function mountVideoWall(container) {
  container.dataset.videowall = "placeholder";
  return { update() {}, destroy() {} };
}
