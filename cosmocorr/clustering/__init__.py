"""The clustering layer: soft clustering on the sky (paper sec. 4; Algorithm 1 steps 1-4).

Owns k-means++ (:mod:`.kmeans_pp`), fuzzy c-means (:mod:`.fuzzy_c_means`, eqs. 15-18; the
iterations run on a backend), assignments from memberships (:mod:`.assignments`, eq. 19, fig. 9)
and the reduction of a catalog to cluster objects (:mod:`.reduction`, step 4). Imports
:mod:`cosmocorr.sky` and :mod:`cosmocorr.backends`; knows nothing of estimators.
"""
from .assignments import greedy_assignments, max_membership, membership_entropy, sample_assignments
from .fuzzy_c_means import FuzzyCMeansResult, fuzzy_c_means, memberships, objective, update_centers
from .kmeans_pp import kmeans_plus_plus
from .reduction import cluster_objects, fit_clusters

__all__ = ["FuzzyCMeansResult", "fuzzy_c_means", "kmeans_plus_plus", "memberships", "objective", "update_centers",
           "sample_assignments", "greedy_assignments", "max_membership", "membership_entropy",
           "cluster_objects", "fit_clusters"]
