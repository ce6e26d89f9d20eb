namespace StreamGate.Upstreams;

/// <summary>
/// APISIX's priority groups (balancer/priority.lua): node indexes grouped by priority, the highest first. A balancer
/// walks the groups in order and uses a lower one only when every node of the higher ones is excluded.
/// </summary>
internal static class PriorityGroups
{
    /// <summary>
    /// The groups of the nodes with a weight. Weight-0 nodes are left out entirely (they are never picked), and so
    /// is a group of weight-0 nodes only: it could never answer a pick.
    /// </summary>
    public static int[][] Of(UpstreamNode[] nodes)
    {
        var byPriority = new SortedDictionary<int, List<int>>(Comparer<int>.Create((a, b) => b.CompareTo(a)));
        for (var i = 0; i < nodes.Length; i++)
        {
            if (nodes[i].Weight <= 0)
            {
                continue;
            }
            if (!byPriority.TryGetValue(nodes[i].Priority, out var members))
            {
                members = [];
                byPriority[nodes[i].Priority] = members;
            }
            members.Add(i);
        }
        var groups = new int[byPriority.Count][];
        var g = 0;
        foreach (var members in byPriority.Values)
        {
            groups[g++] = [.. members];
        }
        return groups;
    }
}
