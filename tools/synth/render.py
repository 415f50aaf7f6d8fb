"""Headless rendering of the skinned MakeHuman figure (pyrender on OSMesa).

Optional dependencies (the ``synth`` extra): pyrender, trimesh, PyOpenGL >= 3.1.7,
and the system library libosmesa6. ``PYOPENGL_PLATFORM`` is set to ``osmesa``
before pyrender is imported (unless already set, e.g. to ``egl``).

The scene: a floor, a plain backdrop colour, one key and one fill directional
light, the figure(s) and an optional barbell, seen through a
:class:`tools.synth.kinematics.Camera`. Rendering is deterministic: the same
poses give the same pixels.
"""

from __future__ import annotations

import os

os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

import numpy as np  # noqa: E402

if not hasattr(np, "infty"):
    np.infty = np.inf  # pyrender 0.1.45 still uses the alias removed in numpy 2

import pyrender  # noqa: E402
import trimesh  # noqa: E402

from tools.synth.body import MeshData, Skinner, load_mesh  # noqa: E402
from tools.synth.kinematics import BAR_RADIUS_M, PLATE_RADIUS_M, Camera, Pose, place  # noqa: E402

#: Barbell: 2.2 m bar, two 45 cm plates a side.
BAR_LENGTH_M = 2.2
PLATE_WIDTH_M = 0.05
PLATE_INNER_Z_M = 0.68


def barbell_mesh(plates: bool = True) -> trimesh.Trimesh:
    """One merged mesh: the bar along local z centred on the origin, with or without plates."""
    parts = [trimesh.creation.cylinder(radius=BAR_RADIUS_M, height=BAR_LENGTH_M, sections=20)]
    parts[0].visual.vertex_colors = (150, 150, 158, 255)
    for sign in (-1.0, 1.0):
        for k, colour in enumerate(((170, 30, 30, 255), (30, 30, 34, 255)) if plates else ()):
            p = trimesh.creation.cylinder(radius=PLATE_RADIUS_M - 0.01 * k, height=PLATE_WIDTH_M, sections=48)
            p.apply_translation([0.0, 0.0, sign * (PLATE_INNER_Z_M + (k + 0.5) * PLATE_WIDTH_M)])
            p.visual.vertex_colors = colour
            parts.append(p)
        collar = trimesh.creation.cylinder(radius=0.03, height=0.04, sections=20)
        collar.apply_translation([0.0, 0.0, sign * (PLATE_INNER_Z_M - 0.02)])
        collar.visual.vertex_colors = (120, 120, 125, 255)
        parts.append(collar)
    return trimesh.util.concatenate(parts)


def _directional(direction: np.ndarray) -> np.ndarray:
    """4x4 pose of a directional light shining along ``-direction``."""
    z = direction / np.linalg.norm(direction)
    helper = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    m = np.eye(4)
    m[:3, :3] = np.column_stack([x, np.cross(z, x), z])
    return m


class Renderer:
    """Renders one lifter (plus optional extra figures) through a fixed camera.

    ``barbell``: draw the bar wherever a pose has one; ``plates``: load it with
    two 45 cm plates a side (an empty bar otherwise). ``shadows``: directional
    shadow mapping (about 2x slower). ``platform``: a dark rubber lifting
    platform under the lifter (flush with the floor). Colours are RGB floats in [0, 1].
    """

    def __init__(self, camera: Camera, mesh: MeshData | None = None, barbell: bool = True, plates: bool = True,
                 shadows: bool = False, platform: bool = True,
                 background: tuple[float, float, float] = (0.78, 0.80, 0.83),
                 floor: tuple[float, float, float] = (0.52, 0.47, 0.42)) -> None:
        self.camera = camera
        self.mesh = mesh or load_mesh()
        self.skinner = Skinner(self.mesh)
        ones = np.ones(len(self.mesh.vertices_m))
        self._colours = np.c_[self.mesh.colours(), ones]
        self._other_colours = np.c_[self.mesh.colours(shirt_rgb=(0.70, 0.18, 0.16), shorts_rgb=(0.30, 0.32, 0.36)), ones]
        self.scene = pyrender.Scene(ambient_light=[0.28, 0.28, 0.28], bg_color=[*background, 1.0])
        floor_box = trimesh.creation.box(extents=[16.0, 0.02, 16.0])
        floor_box.apply_translation([0.0, -0.01, 0.0])
        floor_mat = pyrender.MetallicRoughnessMaterial(baseColorFactor=(*floor, 1.0), metallicFactor=0.0,
                                                       roughnessFactor=1.0)
        self.scene.add(pyrender.Mesh.from_trimesh(floor_box, material=floor_mat))
        if platform:
            mat = trimesh.creation.box(extents=[2.4, 0.006, 2.0])
            mat.apply_translation([0.1, -0.0025, 0.0])
            mat_material = pyrender.MetallicRoughnessMaterial(baseColorFactor=(0.23, 0.22, 0.22, 1.0),
                                                              metallicFactor=0.0, roughnessFactor=1.0)
            self.scene.add(pyrender.Mesh.from_trimesh(mat, material=mat_material))
        self.scene.add(pyrender.IntrinsicsCamera(camera.focal_px, camera.focal_px, camera.width_px / 2.0,
                                                 camera.height_px / 2.0, znear=0.1, zfar=40.0),
                       pose=camera.pose_matrix())
        key = camera.pose_matrix()[:3, 2] + np.array([0.3, 1.2, 0.2])
        for direction, intensity in ((key, 2.6), (np.array([-0.4, 0.6, 0.7]), 1.0)):
            self.scene.add(pyrender.DirectionalLight(color=[1.0, 1.0, 1.0], intensity=intensity),
                           pose=_directional(direction))
        self._bar_node = None
        if barbell:
            self._bar_node = self.scene.add(pyrender.Mesh.from_trimesh(barbell_mesh(plates), smooth=False))
        self._figure_nodes: list = []
        self._flags = pyrender.RenderFlags.SHADOWS_DIRECTIONAL if shadows else pyrender.RenderFlags.NONE
        self._gl = pyrender.OffscreenRenderer(camera.width_px, camera.height_px)

    def _figure(self, vertices: np.ndarray, colours: np.ndarray) -> pyrender.Mesh:
        tm = trimesh.Trimesh(vertices, self.mesh.faces, vertex_colors=colours, process=False)
        return pyrender.Mesh.from_trimesh(tm, smooth=True)

    def render(self, pose: Pose, others: tuple[tuple[Pose, float, tuple[float, float, float]], ...] = ()
               ) -> np.ndarray:
        """RGB uint8 (H, W, 3) of ``pose``; ``others`` are (pose, yaw_deg, offset_m) extra figures.

        Extra figures wear a red shirt so they are easy to tell from the lifter.
        """
        return self.render_with_depth(pose, others)[0]

    def render_with_depth(self, pose: Pose, others: tuple[tuple[Pose, float, tuple[float, float, float]], ...] = ()
                          ) -> tuple[np.ndarray, np.ndarray]:
        """RGB uint8 (H, W, 3) and the depth (H, W) in metres along the camera axis (0 = background)."""
        for node in self._figure_nodes:
            self.scene.remove_node(node)
        self._figure_nodes = [self.scene.add(self._figure(self.skinner.vertices(pose), self._colours))]
        for other, yaw_deg, offset in others:
            verts = place(self.skinner.vertices(other), yaw_deg, offset)
            self._figure_nodes.append(self.scene.add(self._figure(verts, self._other_colours)))
        if self._bar_node is not None:
            m = np.eye(4)
            if pose.has_bar:
                m[:3, :3], m[:3, 3] = pose.bar_rot, pose.bar_m
            else:
                m[:3, 3] = (0.0, -10.0, 0.0)
            self.scene.set_pose(self._bar_node, m)
        colour, depth = self._gl.render(self.scene, flags=self._flags)
        return np.ascontiguousarray(colour[:, :, :3]), np.asarray(depth, dtype=np.float64)

    def close(self) -> None:
        self._gl.delete()

    def __enter__(self) -> "Renderer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
