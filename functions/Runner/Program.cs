using Pipeline.Runner;

return await RunnerCommandLine.InvokeAsync(args);
