using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Pipeline.Core;

namespace Pipeline.Reports;

/// <summary>Registers the run-end hook that writes each run's report and the bucket's index.</summary>
public static class ReportRegistration
{
    public static IServiceCollection AddRunReports(this IServiceCollection services)
    {
        services.TryAddSingleton<ReportPublisher>();
        services.TryAddSingleton<IRunEndHook>(sp => sp.GetRequiredService<ReportPublisher>());
        return services;
    }
}
